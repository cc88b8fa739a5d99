/**
 * The Node flags a replay runs with (`npm run replay`, the benchmark). A replay holds a batch and
 * a row group at a time, but V8 sizes its heap by the machine's memory and collects late: a
 * Parquet replay of a million records passed 300 MB resident without a cap.
 */
const REPLAY_HEAP_MB = 160;
export const REPLAY_NODE_FLAGS = [`--max-old-space-size=${REPLAY_HEAP_MB}`];
