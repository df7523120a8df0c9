import { runService } from '@netledger/service';
import { IngesterModule } from './ingester.module';

runService('ingester', 8081, () => IngesterModule.forRoot()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
