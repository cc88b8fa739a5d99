/**
 * The Node flags the assistant process runs with, wherever it runs (`npm start`, the benchmark;
 * a deployment sets the same through NODE_OPTIONS). Its live data is the replies being written,
 * but V8 sizes its heap by the machine's memory and collects late: at 128 replies at once its
 * resident memory passed 380 MB uncapped.
 */
const ASSISTANT_HEAP_MB = 160;
export const ASSISTANT_NODE_FLAGS = [`--max-old-space-size=${ASSISTANT_HEAP_MB}`];
