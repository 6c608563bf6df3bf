/** OpenCLIP `bytes_to_unicode()`: the reversible map from the 256 UTF-8 byte values to printable characters used by CLIP's byte-level BPE. */

/**
 * For each byte value, the character that stands for it inside BPE symbols. Printable Latin-1 bytes
 * ('!'..'~', '¡'..'¬', '®'..'ÿ') map to themselves; the other 68 bytes map, in increasing byte order,
 * to U+0100, U+0101, ...
 */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Byte values in OpenCLIP's vocabulary order: the printable bytes first, then the remapped ones. */
export const BYTE_VOCAB_ORDER: readonly number[] = buildByteOrder();

/** Inverse of {@link BYTE_TO_CHAR}: char code → byte value, or -1 for characters that stand for no byte. */
export const CHAR_TO_BYTE: Int16Array = buildCharToByte();

function isPrintable(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

function buildByteToChar(): string[] {
  const out = new Array<string>(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    out[b] = isPrintable(b) ? String.fromCharCode(b) : String.fromCharCode(256 + next++);
  }
  return out;
}

function buildByteOrder(): number[] {
  const order: number[] = [];
  for (let b = 0; b < 256; b++) if (isPrintable(b)) order.push(b);
  for (let b = 0; b < 256; b++) if (!isPrintable(b)) order.push(b);
  return order;
}

function buildCharToByte(): Int16Array {
  const table = new Int16Array(256 + 68).fill(-1);
  for (let b = 0; b < 256; b++) table[BYTE_TO_CHAR[b].charCodeAt(0)] = b;
  return table;
}
