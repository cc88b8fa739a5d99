/** Every projection, by name: one folder per read model, each with its fold, writer and specs. */
import type { Projection } from '../runtime/projection.ts';
import { conversationsProjection } from './conversations/projection.ts';
import { usageDailyProjection } from './usage-daily/projection.ts';
import { usersProjection } from './users/projection.ts';
import { viewsProjection } from './views/projection.ts';

export const PROJECTIONS: readonly Projection[] = [
  usersProjection,
  usageDailyProjection,
  conversationsProjection,
  viewsProjection,
];

export const PROJECTION_NAMES = PROJECTIONS.map((p) => p.name);

export function projectionNamed(name: string): Projection | undefined {
  return PROJECTIONS.find((p) => p.name === name);
}
