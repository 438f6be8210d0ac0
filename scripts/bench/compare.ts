/**
 * `npm run bench:compare -- before.json after.json`: two `npm run bench -- --json` runs side by
 * side, ratio by ratio.
 */
import { readFileSync } from 'node:fs';
import { formatComparison, type BenchRun } from './report.js';

const [beforeFile, afterFile] = process.argv.slice(2);
if (!beforeFile || !afterFile) throw new Error('usage: npm run bench:compare -- before.json after.json');
const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as BenchRun;
console.log(formatComparison(read(beforeFile), read(afterFile)));
