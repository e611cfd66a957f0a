/**
 * SHA-256 of bytes and text, as lower-case hex (WebCrypto, hence async).
 *
 * @module
 */

/**
 * Lower-case hex sha256 of `bytes` (only the view's own bytes are hashed).
 *
 * @param bytes the bytes to hash
 * @returns 64 lower-case hex digits
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  let hex = "";
  for (const b of new Uint8Array(digest)) hex += b.toString(16).padStart(2, "0");
  return hex;
}

/**
 * Lower-case hex sha256 of the UTF-8 encoding of `text`.
 *
 * @param text the text to hash
 * @returns 64 lower-case hex digits
 */
export function sha256HexOfText(text: string): Promise<string> {
  return sha256Hex(new TextEncoder().encode(text));
}
