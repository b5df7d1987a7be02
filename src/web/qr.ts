/**
 * A small QR code encoder (ISO/IEC 18004) for the LNURL-auth sign-in code: byte and alphanumeric
 * modes, error correction L or M, versions 1–40, the mask with the lowest penalty. Renders an inline
 * SVG, so the page needs no image request and no script.
 */

type Level = "L" | "M";

// Per version (index 0 unused): error correction codewords per block, and number of blocks.
const ECC_PER_BLOCK: Record<Level, number[]> = {
  L: [
    0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30,
    30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
  ],
  M: [
    0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28,
    28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  ],
};
const BLOCKS: Record<Level, number[]> = {
  L: [
    0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19,
    19, 20, 21, 22, 24, 25,
  ],
  M: [
    0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33,
    35, 37, 38, 40, 43, 45, 47, 49,
  ],
};
// Format information: the two error-correction-level bits.
const LEVEL_BITS: Record<Level, number> = { L: 1, M: 0 };
const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/** A QR symbol: `size` × `size` modules, true = dark. */
export interface QrCode {
  size: number;
  version: number;
  modules: boolean[][];
}

/** Modules available for data and error correction in a version (everything but function patterns). */
function rawDataModules(version: number): number {
  let n = (16 * version + 128) * version + 64;
  if (version >= 2) {
    const align = Math.floor(version / 7) + 2;
    n -= (25 * align - 10) * align - 55;
    if (version >= 7) n -= 36;
  }
  return n;
}

function dataCodewords(version: number, level: Level): number {
  return Math.floor(rawDataModules(version) / 8) - ECC_PER_BLOCK[level][version]! * BLOCKS[level][version]!;
}

class BitBuffer {
  bits: number[] = [];
  put(value: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bits.push((value >>> i) & 1);
  }
}

function encodeSegment(text: string, version: number): BitBuffer {
  const out = new BitBuffer();
  const alnum = [...text].every((c) => ALPHANUMERIC.includes(c));
  if (alnum) {
    out.put(0b0010, 4);
    out.put(text.length, version <= 9 ? 9 : version <= 26 ? 11 : 13);
    for (let i = 0; i + 1 < text.length; i += 2) {
      out.put(ALPHANUMERIC.indexOf(text[i]!) * 45 + ALPHANUMERIC.indexOf(text[i + 1]!), 11);
    }
    if (text.length % 2 === 1) out.put(ALPHANUMERIC.indexOf(text[text.length - 1]!), 6);
  } else {
    const bytes = new TextEncoder().encode(text);
    out.put(0b0100, 4);
    out.put(bytes.length, version <= 9 ? 8 : 16);
    for (const b of bytes) out.put(b, 8);
  }
  return out;
}

// GF(256) with the QR polynomial x^8 + x^4 + x^3 + x^2 + 1.
function gfMul(x: number, y: number): number {
  let z = 0;
  for (let i = 7; i >= 0; i--) {
    z = (z << 1) ^ ((z >>> 7) * 0x11d);
    z ^= ((y >>> i) & 1) * x;
  }
  return z & 0xff;
}

function rsGenerator(degree: number): number[] {
  // Coefficients of (x − α^0)(x − α^1)…(x − α^(degree−1)), highest power first, leading 1 dropped.
  const poly = new Array<number>(degree).fill(0);
  poly[degree - 1] = 1;
  let root = 1;
  for (let i = 0; i < degree; i++) {
    for (let j = 0; j < degree; j++) {
      poly[j] = gfMul(poly[j]!, root);
      if (j + 1 < degree) poly[j] = poly[j]! ^ poly[j + 1]!;
    }
    root = gfMul(root, 0x02);
  }
  return poly;
}

function rsRemainder(data: number[], generator: number[]): number[] {
  const rem = new Array<number>(generator.length).fill(0);
  for (const b of data) {
    const factor = b ^ rem.shift()!;
    rem.push(0);
    generator.forEach((coef, i) => (rem[i] = rem[i]! ^ gfMul(coef, factor)));
  }
  return rem;
}

/** Data codewords → blocks with their error correction, interleaved as the symbol stores them. */
function withErrorCorrection(data: number[], version: number, level: Level): number[] {
  const blocks = BLOCKS[level][version]!;
  const eccLen = ECC_PER_BLOCK[level][version]!;
  const raw = Math.floor(rawDataModules(version) / 8);
  const shortBlocks = blocks - (raw % blocks);
  const shortData = Math.floor(raw / blocks) - eccLen;
  const generator = rsGenerator(eccLen);
  const split: { data: number[]; ecc: number[] }[] = [];
  let k = 0;
  for (let i = 0; i < blocks; i++) {
    const len = shortData + (i < shortBlocks ? 0 : 1);
    const d = data.slice(k, k + len);
    k += len;
    split.push({ data: d, ecc: rsRemainder(d, generator) });
  }
  const out: number[] = [];
  for (let i = 0; i <= shortData; i++) for (const b of split) if (i < b.data.length) out.push(b.data[i]!);
  for (let i = 0; i < eccLen; i++) for (const b of split) out.push(b.ecc[i]!);
  return out;
}

function alignmentPositions(version: number): number[] {
  if (version === 1) return [];
  const count = Math.floor(version / 7) + 2;
  const size = version * 4 + 17;
  const step = version === 32 ? 26 : Math.ceil((version * 4 + 4) / (count * 2 - 2)) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < count; pos -= step) out.splice(1, 0, pos);
  return out;
}

const MASKS: ((x: number, y: number) => boolean)[] = [
  (x, y) => (x + y) % 2 === 0,
  (_x, y) => y % 2 === 0,
  (x) => x % 3 === 0,
  (x, y) => (x + y) % 3 === 0,
  (x, y) => (Math.floor(x / 3) + Math.floor(y / 2)) % 2 === 0,
  (x, y) => ((x * y) % 2) + ((x * y) % 3) === 0,
  (x, y) => (((x * y) % 2) + ((x * y) % 3)) % 2 === 0,
  (x, y) => (((x + y) % 2) + ((x * y) % 3)) % 2 === 0,
];

class Matrix {
  readonly size: number;
  readonly dark: boolean[][];
  readonly fixed: boolean[][];

  constructor(readonly version: number) {
    this.size = version * 4 + 17;
    this.dark = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
    this.fixed = Array.from({ length: this.size }, () => new Array<boolean>(this.size).fill(false));
  }

  set(x: number, y: number, dark: boolean): void {
    this.dark[y]![x] = dark;
    this.fixed[y]![x] = true;
  }

  drawFunctionPatterns(): void {
    const s = this.size;
    for (let i = 0; i < s; i++) {
      this.set(6, i, i % 2 === 0);
      this.set(i, 6, i % 2 === 0);
    }
    for (const [cx, cy] of [
      [3, 3],
      [s - 4, 3],
      [3, s - 4],
    ] as const) {
      for (let dy = -4; dy <= 4; dy++) {
        for (let dx = -4; dx <= 4; dx++) {
          const x = cx + dx;
          const y = cy + dy;
          const d = Math.max(Math.abs(dx), Math.abs(dy));
          if (x >= 0 && x < s && y >= 0 && y < s) this.set(x, y, d !== 2 && d !== 4);
        }
      }
    }
    const pos = alignmentPositions(this.version);
    for (const cy of pos) {
      for (const cx of pos) {
        const nearFinder = (cx === 6 && cy === 6) || (cx === 6 && cy === s - 7) || (cx === s - 7 && cy === 6);
        if (nearFinder) continue;
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) this.set(cx + dx, cy + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
        }
      }
    }
    this.drawFormat(LEVEL_BITS.M, 0); // reserves the format areas; redrawn with the real mask later
    if (this.version >= 7) {
      let rem = this.version;
      for (let i = 0; i < 12; i++) rem = (rem << 1) ^ ((rem >>> 11) * 0x1f25);
      const bits = (this.version << 12) | rem;
      for (let i = 0; i < 18; i++) {
        const bit = ((bits >>> i) & 1) === 1;
        const a = s - 11 + (i % 3);
        const b = Math.floor(i / 3);
        this.set(a, b, bit);
        this.set(b, a, bit);
      }
    }
  }

  drawFormat(levelBits: number, mask: number): void {
    const data = (levelBits << 3) | mask;
    let rem = data;
    for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
    const bits = ((data << 10) | rem) ^ 0x5412;
    const bit = (i: number) => ((bits >>> i) & 1) === 1;
    const s = this.size;
    for (let i = 0; i <= 5; i++) this.set(8, i, bit(i));
    this.set(8, 7, bit(6));
    this.set(8, 8, bit(7));
    this.set(7, 8, bit(8));
    for (let i = 9; i < 15; i++) this.set(14 - i, 8, bit(i));
    for (let i = 0; i < 8; i++) this.set(s - 1 - i, 8, bit(i));
    for (let i = 8; i < 15; i++) this.set(8, s - 15 + i, bit(i));
    this.set(8, s - 8, true);
  }

  drawCodewords(codewords: number[]): void {
    let i = 0;
    const total = codewords.length * 8;
    for (let right = this.size - 1; right >= 1; right -= 2) {
      if (right === 6) right = 5;
      const upward = ((right + 1) & 2) === 0;
      for (let v = 0; v < this.size; v++) {
        const y = upward ? this.size - 1 - v : v;
        for (let j = 0; j < 2; j++) {
          const x = right - j;
          if (this.fixed[y]![x]) continue;
          if (i < total) this.dark[y]![x] = ((codewords[i >>> 3]! >>> (7 - (i & 7))) & 1) === 1;
          i++;
        }
      }
    }
  }

  applyMask(mask: number): void {
    const f = MASKS[mask]!;
    for (let y = 0; y < this.size; y++) {
      for (let x = 0; x < this.size; x++) if (!this.fixed[y]![x] && f(x, y)) this.dark[y]![x] = !this.dark[y]![x];
    }
  }

  penalty(): number {
    const s = this.size;
    const m = this.dark;
    let score = 0;
    const line = (get: (i: number) => boolean) => {
      let run = 1;
      for (let i = 1; i <= s; i++) {
        if (i < s && get(i) === get(i - 1)) run++;
        else {
          if (run >= 5) score += 3 + (run - 5);
          run = 1;
        }
      }
      // Finder-like 1:1:3:1:1 with four light modules on one side.
      for (let i = 0; i + 11 <= s; i++) {
        const w = Array.from({ length: 11 }, (_, k) => get(i + k));
        const core = [true, false, true, true, true, false, true];
        const matches = (offset: number) => core.every((c, k) => w[offset + k] === c);
        if ((matches(4) && w.slice(0, 4).every((d) => !d)) || (matches(0) && w.slice(7).every((d) => !d))) score += 40;
      }
    };
    for (let y = 0; y < s; y++) line((x) => m[y]![x]!);
    for (let x = 0; x < s; x++) line((y) => m[y]![x]!);
    for (let y = 0; y + 1 < s; y++) {
      for (let x = 0; x + 1 < s; x++) {
        const c = m[y]![x];
        if (c === m[y]![x + 1] && c === m[y + 1]![x] && c === m[y + 1]![x + 1]) score += 3;
      }
    }
    const dark = m.reduce((n, row) => n + row.filter(Boolean).length, 0);
    const total = s * s;
    score += (Math.ceil(Math.abs(dark * 20 - total * 10) / total) - 1) * 10;
    return score;
  }
}

/** Encodes text in the smallest version that holds it at the given error correction level. */
export function encodeQr(text: string, level: Level = "M"): QrCode {
  let version = 1;
  let bits: BitBuffer | null = null;
  for (; version <= 40; version++) {
    const candidate = encodeSegment(text, version);
    if (candidate.bits.length <= dataCodewords(version, level) * 8) {
      bits = candidate;
      break;
    }
  }
  if (!bits) throw new Error("text too long for a QR code");
  const capacity = dataCodewords(version, level) * 8;
  bits.put(0, Math.min(4, capacity - bits.bits.length));
  bits.put(0, (8 - (bits.bits.length % 8)) % 8);
  for (let pad = 0xec; bits.bits.length < capacity; pad ^= 0xec ^ 0x11) bits.put(pad, 8);
  const data: number[] = [];
  for (let i = 0; i < bits.bits.length; i += 8) data.push(parseInt(bits.bits.slice(i, i + 8).join(""), 2));
  const codewords = withErrorCorrection(data, version, level);

  let best: Matrix | null = null;
  let bestScore = Infinity;
  for (let mask = 0; mask < 8; mask++) {
    const sym = new Matrix(version);
    sym.drawFunctionPatterns();
    sym.drawCodewords(codewords);
    sym.applyMask(mask);
    sym.drawFormat(LEVEL_BITS[level], mask);
    const score = sym.penalty();
    if (score < bestScore) {
      best = sym;
      bestScore = score;
    }
  }
  return { size: best!.size, version, modules: best!.dark };
}

/** The symbol as an SVG document fragment (dark modules as one path, 4-module quiet zone). */
export function qrSvg(qr: QrCode, title: string): string {
  const border = 4;
  const dim = qr.size + border * 2;
  let path = "";
  qr.modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) path += `M${x + border},${y + border}h1v1h-1z`;
    }),
  );
  const safeTitle = title.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${dim} ${dim}" shape-rendering="crispEdges" role="img" aria-label="${safeTitle}">` +
    `<rect width="${dim}" height="${dim}" fill="#fff"/><path d="${path}" fill="#000"/></svg>`
  );
}
