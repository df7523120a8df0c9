import { runService } from '@netledger/service';
import { ApiModule } from './api.module';

runService('api', 8080, () => ApiModule.forRoot()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
