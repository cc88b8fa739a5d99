import { runService } from '@parley/platform/run-service';
import { buildApp, SERVICE } from './app.ts';
import { settings } from './config.ts';
import { createDependencies } from './dependencies.ts';

await runService({ service: SERVICE, settings, createDependencies, buildApp });
