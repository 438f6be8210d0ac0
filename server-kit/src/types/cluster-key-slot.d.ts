// cluster-key-slot ships no types: it is ioredis' own slot function (CRC16 of the hash tag).
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
