/**
 * Loaded with `--import` into services a test starts: their stdin is a pipe from the test, and
 * when it closes (the test process ended, even by a timeout or a kill) the service shuts down,
 * so no orphan keeps running into the next test file.
 */
process.stdin.on('end', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.on('error', () => process.kill(process.pid, 'SIGTERM'));
process.stdin.resume();
