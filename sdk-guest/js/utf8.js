// UTF-8 text to and from bytes, without TextEncoder/TextDecoder: the QuickJS backend
// has neither, so the SDK carries its own (strict: invalid input decodes to undefined).

/** The UTF-8 bytes of `text` (lone surrogates become U+FFFD). */
export function encode(text) {
  const out = [];
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else
      out.push(
        0xf0 | (c >> 18),
        0x80 | ((c >> 12) & 0x3f),
        0x80 | ((c >> 6) & 0x3f),
        0x80 | (c & 0x3f),
      );
  }
  return Uint8Array.from(out);
}

/** The text of UTF-8 `bytes`, or undefined when they are not valid UTF-8. */
export function decode(bytes) {
  let text = '';
  let chunk = [];
  const flush = () => {
    text += String.fromCharCode.apply(null, chunk);
    chunk = [];
  };
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let c;
    let n;
    let min;
    if (b < 0x80) {
      c = b;
      n = 0;
      min = 0;
    } else if (b >= 0xc2 && b <= 0xdf) {
      c = b & 0x1f;
      n = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      c = b & 0x0f;
      n = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      c = b & 0x07;
      n = 3;
      min = 0x10000;
    } else {
      return undefined;
    }
    for (let k = 1; k <= n; k++) {
      const cont = bytes[i + k];
      if (cont === undefined || (cont & 0xc0) !== 0x80) return undefined;
      c = (c << 6) | (cont & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return undefined;
    i += n + 1;
    if (c >= 0x10000) {
      c -= 0x10000;
      chunk.push(0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff));
    } else {
      chunk.push(c);
    }
    if (chunk.length > 4096) flush();
  }
  flush();
  return text;
}
