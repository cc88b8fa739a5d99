/** Every projection, by name. */
import type { Projection } from '../runtime/projection.ts';
import { conversationsProjection } from './conversations.ts';
import { usageDailyProjection } from './usage-daily.ts';
import { usersProjection } from './users.ts';
import { viewsProjection } from './views.ts';

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
