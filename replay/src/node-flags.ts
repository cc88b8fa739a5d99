/**
 * The Node flags a replay runs with (`npm run replay`, the benchmark). A replay holds a fetched
 * batch at a time in this thread (its worker thread has its own limits, pipeline.ts), but V8 sizes
 * its heap by the machine's memory and collects late: a Parquet replay of a million records
 * passed 300 MB resident without a cap.
 */
const REPLAY_HEAP_MB = 64;
const REPLAY_SEMI_SPACE_MB = 8;
export const REPLAY_NODE_FLAGS = [
  `--max-old-space-size=${REPLAY_HEAP_MB}`,
  `--max-semi-space-size=${REPLAY_SEMI_SPACE_MB}`,
];
