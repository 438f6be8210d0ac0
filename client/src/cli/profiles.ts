/**
 * Device behaviour for `simulate`: PV inverters that generate (negative power) along a bell
 * curve over the day with drifting cloud cover, and household meters that consume, with a
 * morning and an evening peak, noise and the odd kettle. Seeded, so a run can be repeated.
 */

/** mulberry32: a small, fast PRNG with a 32-bit seed; good enough for load shapes. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal sample (Box-Muller). */
function gaussian(random: () => number): number {
  const u = 1 - random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const bell = (hour: number, centre: number, width: number) => Math.exp(-((hour - centre) ** 2) / (2 * width ** 2));

/** Hour of the day, fractional, in the site's local time. */
function localHour(at: Date, utcOffsetHours: number): number {
  const h = at.getUTCHours() + at.getUTCMinutes() / 60 + at.getUTCSeconds() / 3600 + utcOffsetHours;
  return ((h % 24) + 24) % 24;
}

export interface SimulatedDevice {
  siteId: string;
  deviceId: string;
  /** Power in watts at `at`; each call moves the device's internal state (clouds) on. */
  powerAt(at: Date): number;
}

const round1 = (w: number) => Math.round(w * 10) / 10;

export function solarInverter(siteId: string, deviceId: string, capacityW: number, utcOffsetHours: number, random: () => number): SimulatedDevice {
  let cloud = 0.6 + 0.4 * random();
  return {
    siteId,
    deviceId,
    powerAt(at) {
      // Clouds drift slowly and now and then pass in front of the sun.
      cloud = Math.min(1, Math.max(0.15, cloud + gaussian(random) * 0.05));
      const shade = random() < 0.05 ? 0.4 : 1;
      const hour = localHour(at, utcOffsetHours);
      const sun = hour > 5 && hour < 21 ? bell(hour, 13, 2.6) : 0;
      return round1(-capacityW * sun * cloud * shade);
    },
  };
}

export function householdMeter(siteId: string, deviceId: string, baseW: number, utcOffsetHours: number, random: () => number): SimulatedDevice {
  return {
    siteId,
    deviceId,
    powerAt(at) {
      const hour = localHour(at, utcOffsetHours);
      const shape = 1 + 1.5 * bell(hour, 7.5, 1) + 2.5 * bell(hour, 19, 1.5) - 0.3 * bell(hour, 3.5, 2);
      const noise = 1 + gaussian(random) * 0.08;
      const appliance = random() < 0.02 ? 2000 : 0;
      return round1(Math.max(20, baseW * shape * noise + appliance));
    },
  };
}

/** `sites` sites, each with one inverter and `devicesPerSite - 1` meters (at least one device). */
export function buildFleet(sites: number, devicesPerSite: number, random: () => number): SimulatedDevice[] {
  const fleet: SimulatedDevice[] = [];
  for (let s = 1; s <= sites; s++) {
    const siteId = `site-${String(s).padStart(3, '0')}`;
    // Sites a few time zones apart, so the fleet does not peak all at once.
    const offset = Math.round(random() * 4 - 2);
    for (let d = 1; d <= devicesPerSite; d++) {
      fleet.push(
        d === 1
          ? solarInverter(siteId, 'inverter-1', 3000 + random() * 7000, offset, random)
          : householdMeter(siteId, `meter-${d - 1}`, 150 + random() * 350, offset, random),
      );
    }
  }
  return fleet;
}
