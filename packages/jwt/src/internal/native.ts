/**
 * The signature of a compact JWS, verified with node:crypto, synchronously:
 * the verifier's only signature path. Keys are `KeyObject`s made once, when
 * the key store imports a key (jose imports and checks the JWK first), and
 * checked here for what the algorithm needs: RSA of at least 2048 bits for
 * RS* and PS* (RFC 7518 §3.3, §3.5), the curve the ES* algorithm names,
 * Ed25519 for EdDSA. ECDSA signatures are IEEE P1363 (`r || s`) of exactly
 * the curve's length (RFC 7518 §3.4), never DER; RSASSA-PSS uses MGF1 with
 * the algorithm's hash and a salt as long as the hash (RFC 7518 §3.5); an
 * HMAC is compared in constant time.
 */
import * as crypto from "node:crypto"

interface Scheme {
  /** The digest; `null` for EdDSA, which hashes internally. */
  readonly hash: string | null
  readonly kind: "rsa" | "pss" | "ec" | "ed" | "hmac"
  /** ECDSA: the curve and the exact P1363 signature length. */
  readonly curve?: string
  readonly length?: number
  /** PSS: the salt length, the hash's. */
  readonly saltLength?: number
}

const rsa = (bits: number): Scheme => ({ hash: `sha${bits}`, kind: "rsa" })
const pss = (bits: number): Scheme => ({ hash: `sha${bits}`, kind: "pss", saltLength: bits / 8 })
const ec = (bits: number, curve: string, length: number): Scheme => ({ hash: `sha${bits}`, kind: "ec", curve, length })
const hmac = (bits: number): Scheme => ({ hash: `sha${bits}`, kind: "hmac", length: bits / 8 })

const schemes: ReadonlyMap<string, Scheme> = new Map([
  ["RS256", rsa(256)],
  ["RS384", rsa(384)],
  ["RS512", rsa(512)],
  ["PS256", pss(256)],
  ["PS384", pss(384)],
  ["PS512", pss(512)],
  ["ES256", ec(256, "prime256v1", 64)],
  ["ES384", ec(384, "secp384r1", 96)],
  ["ES512", ec(512, "secp521r1", 132)],
  ["EdDSA", { hash: null, kind: "ed" }],
  ["Ed25519", { hash: null, kind: "ed" }],
  ["HS256", hmac(256)],
  ["HS384", hmac(384)],
  ["HS512", hmac(512)]
])

/** Whether the algorithm has a native path. */
export const supports = (alg: string): boolean => schemes.has(alg)

/**
 * Why `key` cannot verify `alg`, as the end of a sentence, or `undefined`
 * when it can. Run once per key and algorithm, at import.
 */
export const keyProblem = (alg: string, key: crypto.KeyObject): string | undefined => {
  const scheme = schemes.get(alg)
  if (scheme === undefined) return `has no algorithm ${alg}`
  if (scheme.kind === "hmac") return key.type === "secret" ? undefined : "is not a secret key"
  if (key.type !== "public") return "is not a public key"
  const details = key.asymmetricKeyDetails
  switch (scheme.kind) {
    case "rsa":
    case "pss":
      if (key.asymmetricKeyType !== "rsa") return "is not an RSA key"
      return (details?.modulusLength ?? 0) < 2048 ? "has an RSA modulus shorter than 2048 bits" : undefined
    case "ec":
      if (key.asymmetricKeyType !== "ec") return "is not an EC key"
      return details?.namedCurve === scheme.curve ? undefined : `is not on the curve ${alg} names`
    case "ed":
      return key.asymmetricKeyType === "ed25519" ? undefined : "is not an Ed25519 key"
  }
}

/**
 * Whether `signature` (the signature's bytes) signs `signingInput` (the
 * token's `header.payload` text, checked to be base64url) under `alg` and
 * `key`. `key` must have passed `keyProblem` for `alg`. Never throws.
 */
export const verify = (
  alg: string,
  key: crypto.KeyObject,
  signingInput: string,
  signature: Uint8Array
): boolean => {
  const scheme = schemes.get(alg)
  if (scheme === undefined) return false
  try {
    if (scheme.length !== undefined && signature.length !== scheme.length) return false
    // The compact check admits only base64url characters before the signature: latin1 is their bytes. The hashing
    // schemes take the text as it is (no buffer made for it, and the streaming verifier is the cheaper native call).
    switch (scheme.kind) {
      case "hmac":
        return crypto.timingSafeEqual(
          crypto.createHmac(scheme.hash!, key).update(signingInput, "latin1").digest(),
          signature
        )
      case "rsa":
        // `keyProblem` admits only keys of type `rsa` for RS*, whose padding is PKCS #1 v1.5 by default.
        return crypto.createVerify(scheme.hash!).update(signingInput, "latin1").verify(key, signature)
      case "pss":
        return crypto.createVerify(scheme.hash!).update(signingInput, "latin1").verify({
          key,
          padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: scheme.saltLength!
        }, signature)
      case "ec":
        return crypto.createVerify(scheme.hash!).update(signingInput, "latin1").verify(
          { key, dsaEncoding: "ieee-p1363" },
          signature
        )
      case "ed":
        return crypto.verify(null, Buffer.from(signingInput, "latin1"), key, signature)
    }
  } catch {
    return false
  }
}
