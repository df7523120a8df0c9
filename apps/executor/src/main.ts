import { runService } from '@netledger/service';
import { ExecutorModule } from './executor.module';

runService('executor', 8083, () => ExecutorModule.forRoot()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
