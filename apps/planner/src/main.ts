import { runService } from '@netledger/service';
import { PlannerModule } from './planner.module';

runService('planner', 8082, () => PlannerModule.forRoot()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
