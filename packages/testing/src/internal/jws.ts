/**
 * Compact JWS by hand: base64url segments, and signatures over exact bytes.
 * Mutations need bytes no issuer library writes (members reordered, escapes,
 * repeated names), so they sign the text as given with WebCrypto.
 */
import type * as TokenIssuer from "@warden/jwt/TokenIssuer"
import * as Effect from "effect/Effect"

/** base64url of UTF-8 text or of bytes, without padding. */
export const encode = (input: string | Uint8Array): string => Buffer.from(input).toString("base64url")

/** The UTF-8 text of a base64url segment. */
export const decodeText = (segment: string): string => Buffer.from(segment, "base64url").toString("utf8")

/** The three segments of a compact JWS (empty strings for missing ones). */
export const segments = (token: string): readonly [string, string, string] => {
  const [header = "", claims = "", signature = ""] = token.split(".")
  return [header, claims, signature]
}

/** A JSON object segment of a token the kit signed itself (so it is known to be one). */
export const decodeObject = (segment: string): Record<string, unknown> => {
  const value: unknown = JSON.parse(decodeText(segment))
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {}
}

const algorithmOf = (alg: TokenIssuer.SigningKey["alg"]): AlgorithmIdentifier | RsaPssParams | EcdsaParams => {
  switch (alg) {
    case "ES256":
      return { name: "ECDSA", hash: "SHA-256" }
    case "RS256":
      return { name: "RSASSA-PKCS1-v1_5" }
    case "PS256":
      return { name: "RSA-PSS", saltLength: 32 }
    case "EdDSA":
      return { name: "Ed25519" }
  }
}

/** Signs `header.claims` exactly as given (both already base64url) with a signing key; returns the compact JWS. */
export const sign = (key: TokenIssuer.SigningKey, header: string, claims: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const input = new TextEncoder().encode(`${header}.${claims}`)
    const signature = await crypto.subtle.sign(algorithmOf(key.alg), key.privateKey, input)
    return `${header}.${claims}.${encode(new Uint8Array(signature))}`
  })

/** Signs `header.claims` with HMAC-SHA-256 keyed by `secret`, as a key-confusion attacker would. */
export const signHmac = (secret: Uint8Array, header: string, claims: string): Effect.Effect<string> =>
  Effect.promise(async () => {
    const key = await crypto.subtle.importKey(
      "raw",
      new Uint8Array(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"]
    )
    const signature = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${header}.${claims}`))
    return `${header}.${claims}.${encode(new Uint8Array(signature))}`
  })

/** The order of the P-256 group. */
const p256Order = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n

/**
 * ECDSA's own malleability: (r, s) and (r, n - s) both verify. Returns the
 * twin of an ES256 signature segment (64 raw bytes), or `undefined` for any
 * other length.
 */
export const ecdsaTwin = (signature: string): string | undefined => {
  const bytes = Buffer.from(signature, "base64url")
  if (bytes.length !== 64) return undefined
  const s = BigInt(`0x${bytes.subarray(32).toString("hex")}`)
  const twin = Buffer.from((p256Order - s).toString(16).padStart(64, "0"), "hex")
  return encode(Buffer.concat([bytes.subarray(0, 32), twin]))
}

/** JSON values, as written into headers and claims. */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

/** How to write JSON text: member order, whitespace, and which string characters to spell as `\uXXXX`. */
export interface Spelling {
  /** Rotates the members of every object by this many places (after reversing them, if asked). */
  readonly rotate: number
  readonly reverse: boolean
  /** A space after every `:` and `,`. */
  readonly spaced: boolean
  /** Writes every n-th character of every string as a `\uXXXX` escape; 0 writes none so. */
  readonly escapeEvery: number
}

const writeString = (value: string, escapeEvery: number): string => {
  let out = "\""
  let index = 0
  for (const char of value) {
    index++
    if (escapeEvery > 0 && index % escapeEvery === 0) {
      for (let i = 0; i < char.length; i++) out += `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`
    } else {
      out += JSON.stringify(char).slice(1, -1)
    }
  }
  return `${out}"`
}

/** Writes a JSON value (as parsed from a token) with the given spelling; the value it denotes is unchanged. */
export const write = (value: unknown, spelling: Spelling): string => {
  const colon = spelling.spaced ? ": " : ":"
  const comma = spelling.spaced ? ", " : ","
  if (typeof value === "string") return writeString(value, spelling.escapeEvery)
  if (Array.isArray(value)) return `[${value.map((v) => write(v, spelling)).join(comma)}]`
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
    if (spelling.reverse) entries.reverse()
    const shift = entries.length === 0 ? 0 : spelling.rotate % entries.length
    const ordered = [...entries.slice(shift), ...entries.slice(0, shift)]
    return `{${
      ordered.map(([k, v]) => `${writeString(k, spelling.escapeEvery)}${colon}${write(v, spelling)}`).join(comma)
    }}`
  }
  return JSON.stringify(value) ?? "null"
}
