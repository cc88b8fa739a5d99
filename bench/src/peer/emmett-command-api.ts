/**
 * The commands benchmark's peer: the command API's two chat commands handled by Emmett
 * (@event-driven-io/emmett-postgresql) with Parley's decider, as its own process. Started by
 * bench/src/benchmarks/commands.ts on a database of its own; see app.ts for what it shares with
 * the command API and what it leaves out.
 */
import { runService } from '@parley/platform/run-service';
import { buildApp, SERVICE } from './app.ts';
import { settings } from './config.ts';
import { createDependencies } from './dependencies.ts';

await runService({ service: SERVICE, settings, createDependencies, buildApp });
