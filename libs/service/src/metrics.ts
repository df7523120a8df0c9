import { Controller, Get, Header, Injectable } from '@nestjs/common';
import { MetricsRegistry } from '@netledger/process';

/** The process's Prometheus registry, injectable; modules add their metrics to `registry`. */
@Injectable()
export class Metrics extends MetricsRegistry {}

@Controller()
export class MetricsController {
  constructor(private readonly metrics: Metrics) {}

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
