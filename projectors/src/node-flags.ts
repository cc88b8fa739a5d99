/**
 * The Node flags a projector process runs with, wherever it runs (`npm start`, the `projector`
 * CLI, the benchmark; a deployment sets the same through NODE_OPTIONS). A projector's live data
 * is a few batches, but V8 sizes its heap by the machine's memory (about 4 GB here) and collects
 * late, so a rebuild's resident memory grew past 450 MB; capped, it stays under 300 MB.
 */
const PROJECTOR_HEAP_MB = 192;
export const PROJECTOR_NODE_FLAGS = [`--max-old-space-size=${PROJECTOR_HEAP_MB}`];
