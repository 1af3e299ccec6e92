/** The secret part of an API key `bk_<id>_<secret>`: everything after the id, since base64url secrets hold "_" too. */
export function keySecret(key: string): string {
  const secret = key.split("_").slice(2).join("_");
  if (secret.length < 32) throw new Error(`not an API key of the form bk_<id>_<secret>: ${key.slice(0, 12)}...`);
  return secret;
}
