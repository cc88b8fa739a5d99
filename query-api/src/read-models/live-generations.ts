/**
 * Which generation of each read model is live (`read.generations`, moved by a rebuild), cached for
 * a short while so a request costs no query for it (and is read again in the background when
 * old, so no request waits for it but the first). A rebuild keeps the old generation readable
 * until the projectors have followed the switch, so a pointer a second old is still safe. With
 * PostgreSQL down the last known pointer is kept (generation 1 if none was ever read), so routes
 * that never touch PostgreSQL go on serving.
 */
import type { Logger } from '@parley/platform/logger';
import type { Pool } from '@parley/platform/postgres';
import { PROJECTIONS, type ProjectionName, pointerKey } from '@parley/platform/read-model-names';
import type { Guard } from '@parley/platform/resilience';
import { SingleFlight } from './single-flight.ts';

export type Generations = Readonly<Record<ProjectionName, number>>;

export class LiveGenerations {
  private known: Generations | undefined;
  private readAt = Number.NEGATIVE_INFINITY;
  private readonly flight = new SingleFlight();

  constructor(
    private readonly options: {
      pool: Pool;
      guard: Guard;
      namespace: string;
      cacheMs: number;
      log: Logger;
      now?: () => number;
    },
  ) {}

  async current(): Promise<Generations> {
    const now = this.options.now ?? Date.now;
    if (!this.known) return this.flight.run('generations', () => this.refresh(now));
    // Known but old: answer with it and read the pointer in the background.
    if (now() - this.readAt >= this.options.cacheMs) {
      void this.flight.run('generations', () => this.refresh(now));
    }
    return this.known;
  }

  async of(projection: ProjectionName): Promise<number> {
    return (await this.current())[projection];
  }

  private async refresh(now: () => number): Promise<Generations> {
    const { pool, guard, namespace, log } = this.options;
    const keys = PROJECTIONS.map((p) => pointerKey(namespace, p));
    try {
      const { rows } = await guard(() =>
        pool.query<{ projection: string; generation: number }>(
          'select projection, generation from read.generations where projection = any($1)',
          [keys],
        ),
      );
      const found = new Map(rows.map((r) => [r.projection, r.generation]));
      this.known = Object.fromEntries(
        PROJECTIONS.map((p) => [p, found.get(pointerKey(namespace, p)) ?? 1]),
      ) as Record<ProjectionName, number>;
      this.readAt = now();
    } catch (error) {
      // A missing read schema (no projector has run yet) reads as generation 1 too.
      log.warn({ err: error }, 'generation pointers not read; using the last known');
      this.readAt = now();
      this.known ??= Object.fromEntries(PROJECTIONS.map((p) => [p, 1])) as Record<
        ProjectionName,
        number
      >;
    }
    return this.known;
  }
}
