/**
 * Consumer processes that die and come back while a fault test runs, as pods do: every few
 * hundred ms one is SIGKILLed and replaced (half the time under its name, a restarted process;
 * half under a new one, a new pod), or, when asked, frozen (SIGSTOP) past CLAIM_MIN_IDLE_MS so
 * that the others claim what it holds while it is alive. Shared by the fault tests on one Redis
 * and on a cluster.
 */
import { spawnService, type ServiceProcess } from '../../scripts/lib/spawn-service.js';

export interface ChurnOptions {
  /** The processor's environment for a consumer named `name`. */
  env: (name: string) => Record<string, string>;
  rand: () => number;
  /** Consumers running at once. @default 3 */
  consumers?: number;
  /** The pause between two blows: `[least, spread]` ms. @default [200, 300] */
  pauseMs?: [number, number];
  /** The share of blows that freeze rather than kill (each for 2–2.8 s). @default 0 */
  freezeShare?: number;
}

export interface ConsumerChurn {
  readonly kills: number;
  readonly freezes: number;
  /** Stops the blows and waits for frozen consumers to thaw; the consumers keep running. */
  stop(): Promise<void>;
  /** stop(), then SIGKILL every consumer. Safe to call twice: register it as the test's cleanup. */
  close(): Promise<void>;
}

export function churnConsumers({ env, rand, consumers: count = 3, pauseMs = [200, 300], freezeShare = 0 }: ChurnOptions): ConsumerChurn {
  let generation = 0;
  const names = Array.from({ length: count }, (_, i) => `consumer-${i}-g0`);
  const consumers: ServiceProcess[] = names.map((name) => spawnService('process', env(name)));
  const frozen = new Set<ServiceProcess>();
  const thawing: Promise<void>[] = [];
  let kills = 0;
  let freezes = 0;
  let running = true;

  const freeze = async (c: ServiceProcess) => {
    frozen.add(c);
    freezes += 1;
    c.child.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 2_000 + rand() * 800));
    c.child.kill('SIGCONT');
    frozen.delete(c);
  };
  const loop = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, pauseMs[0] + rand() * pauseMs[1]));
      if (!running) break;
      const slot = Math.floor(rand() * consumers.length);
      if (frozen.has(consumers[slot]!)) continue;
      if (rand() < freezeShare) {
        thawing.push(freeze(consumers[slot]!));
        continue;
      }
      consumers[slot]!.child.kill('SIGKILL');
      await consumers[slot]!.exit;
      kills += 1;
      names[slot] = rand() < 0.5 ? names[slot]! : `consumer-${slot}-g${++generation}`;
      consumers[slot] = spawnService('process', env(names[slot]!));
    }
  })();

  const stop = async () => {
    running = false;
    await loop;
    await Promise.all(thawing);
  };
  return {
    get kills() {
      return kills;
    },
    get freezes() {
      return freezes;
    },
    stop,
    async close() {
      // The loop first: a consumer it spawned after the kills would outlive the test.
      await stop();
      for (const c of consumers) c.child.kill('SIGKILL');
    },
  };
}
