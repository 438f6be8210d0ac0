/** Node-only additions: a file spool that keeps buffered readings across restarts. */
export { FileSpool, openSpool, type FsyncPolicy, type SpoolOptions } from './spool.js';
