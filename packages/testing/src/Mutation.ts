/**
 * What an attacker (or a careless issuer) can do to a valid token, as data:
 * each mutation is a plain object that prints readably in a counterexample,
 * and `apply` turns it into a token inside an Effect, signing where it must
 * with the `TestIdentityProvider`'s keys and the Effect `Clock`.
 *
 * Two families:
 *
 * - `Hostile`: every one must be refused with `Unauthenticated`. Tampering
 *   without the key (bit flips, truncation, edited header or claims, another
 *   tenant, a repeated member), non-canonical spellings of the same bytes,
 *   forgeries (a key never published, HMAC keyed with the public key, an
 *   embedded key), and tokens the issuer's own key signed but a verifier must
 *   refuse (expired, not yet valid, another audience or issuer, a malformed
 *   claim, a lifetime too long).
 * - `ReEncoding`: the same claims under another token string. `Equivalent`
 *   ones carry a valid signature (re-signed, the ECDSA twin, members
 *   reordered or escaped) and verify wherever the original does, unless it is
 *   revoked; `Respell` ones are the same bytes spelt non-canonically and are
 *   refused as malformed.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Jws from "./internal/jws.js"
import { TestIdentityProvider } from "./TestIdentityProvider.js"

/** A part of a compact JWS. */
export type Segment = "header" | "claims" | "signature"

/** JSON values, as written into headers and claims. */
export type Json = Jws.Json

/** How JSON text may be spelt without changing what it denotes. */
export type Spelling = Jws.Spelling

/** One bit of one character flipped (`index` taken modulo the segment's length). */
export interface BitFlip {
  readonly _tag: "BitFlip"
  readonly segment: Segment
  readonly index: number
  readonly bit: number
}

/** A segment cut short (to `keep` modulo its length characters, possibly none). */
export interface Truncated {
  readonly _tag: "Truncated"
  readonly segment: Segment
  readonly keep: number
}

/**
 * The same bytes spelt another way: `=` padding, the standard base64
 * alphabet (padded), unused trailing bits set, or whitespace inserted at
 * `position` (modulo the token's length + 1). A spelling a segment cannot
 * take (no trailing bits, nothing to translate) is applied to the signature.
 */
export interface Respell {
  readonly _tag: "Respell"
  readonly spelling: "padding" | "standard-alphabet" | "trailing-bits" | "space" | "line-break" | "tab"
  readonly segment: Segment
  readonly position: number
}

/** A header member set (or removed, `value` undefined), the claims and signature kept. */
export interface HeaderTamper {
  readonly _tag: "HeaderTamper"
  readonly member: "alg" | "kid" | "typ" | "cty" | "crit" | "b64" | "zip"
  readonly value: Json | undefined
}

/** A claim edited to the attacker's advantage, the header and signature kept. */
export interface ClaimTamper {
  readonly _tag: "ClaimTamper"
  readonly edit:
    | "extend-expiry"
    | "add-scope"
    | "add-permission"
    | "change-subject"
    | "add-audience"
    | "drop-token-id"
    | "toggle-service"
}

/** Another tenant written into `tid` (or added to `tenants`), the signature kept. */
export interface WrongTenant {
  readonly _tag: "WrongTenant"
  readonly claim: "tid" | "tenants"
  /** The tenant to write; when it is the token's own, a variant of it. */
  readonly tenant: string
}

/** A member repeated with another value, the signature kept or (by the issuer's key) renewed. */
export interface DuplicateMember {
  readonly _tag: "DuplicateMember"
  readonly part: "header" | "claims"
  readonly member: string
  readonly resigned: boolean
}

/** Re-signed by the issuer with `exp` more than the clock skew in the past. */
export interface Expired {
  readonly _tag: "Expired"
  readonly secondsAgo: number
}

/** Re-signed by the issuer with `nbf` (or `iat`) more than the clock skew in the future. */
export interface NotYetValid {
  readonly _tag: "NotYetValid"
  readonly claim: "nbf" | "iat"
  readonly secondsAhead: number
}

/** Re-signed by the issuer with a flaw the verifier must refuse. */
export interface Misissued {
  readonly _tag: "Misissued"
  readonly flaw:
    | "audience-elsewhere"
    | "audience-suffixed"
    | "audience-empty"
    | "issuer-elsewhere"
    | "issuer-suffixed"
    | "no-expiry"
    | "no-issuer"
    | "no-audience"
    | "no-subject"
    | "lifetime-too-long"
    | "type-jwt"
    | "no-type"
    | "nested-jwt"
    | "unknown-critical-header"
    | "algorithm-mismatch"
}

/** Re-signed by the issuer with a claim set to a malformed value (or removed, `value` undefined). */
export interface MalformedClaim {
  readonly _tag: "MalformedClaim"
  readonly claim: string
  readonly value: Json | undefined
}

/** Signed by a key the provider never published, under the issuer's kid or its own. */
export interface ForeignKey {
  readonly _tag: "ForeignKey"
  readonly kid: "issuer" | "own"
}

/** HS256 keyed with the issuer's public key (its JWK's JSON, or its `x` coordinate): algorithm confusion. */
export interface KeyConfusion {
  readonly _tag: "KeyConfusion"
  readonly secret: "jwk-json" | "jwk-x"
}

/** Signed by a foreign key that the header embeds (`jwk`) or points to (`jku`, `x5u`). */
export interface EmbeddedKey {
  readonly _tag: "EmbeddedKey"
  readonly member: "jwk" | "jku" | "x5u"
  readonly kid: "issuer" | "own"
}

/** The same header and claims, signed again (ECDSA signatures differ each time). */
export interface Resigned {
  readonly _tag: "Resigned"
}

/** The signature's ECDSA twin (r, n - s), valid for the same bytes; for non-ES256 tokens, `Resigned`. */
export interface EcdsaTwin {
  readonly _tag: "EcdsaTwin"
}

/** The header or the claims written with another spelling (order, spaces, escapes), then re-signed by the issuer. */
export interface Reserialised {
  readonly _tag: "Reserialised"
  readonly part: "header" | "claims"
  readonly spelling: Spelling
}

/** Every mutation. */
export type Mutation =
  | BitFlip
  | Truncated
  | Respell
  | HeaderTamper
  | ClaimTamper
  | WrongTenant
  | DuplicateMember
  | Expired
  | NotYetValid
  | Misissued
  | MalformedClaim
  | ForeignKey
  | KeyConfusion
  | EmbeddedKey
  | Resigned
  | EcdsaTwin
  | Reserialised

/** Another token string for the same claims with a valid signature: verifies wherever the original does. */
export type Equivalent = Resigned | EcdsaTwin | Reserialised

/** Another token string for the same claims. */
export type ReEncoding = Equivalent | Respell

/** Mutations every verifier must refuse. */
export type Hostile = Exclude<Mutation, Equivalent>

/** Whether a mutation leaves a token that verifies wherever the original does. */
export const isEquivalent = (mutation: Mutation): mutation is Equivalent =>
  mutation._tag === "Resigned" || mutation._tag === "EcdsaTwin" || mutation._tag === "Reserialised"

const indexOf: Record<Segment, 0 | 1 | 2> = { header: 0, claims: 1, signature: 2 }

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

const replaceSegment = (token: string, segment: Segment, value: string): string => {
  const parts = [...Jws.segments(token)]
  parts[indexOf[segment]] = value
  return parts.join(".")
}

const respell = (token: string, mutation: Respell): string => {
  const parts = Jws.segments(token)
  const chosen = parts[indexOf[mutation.segment]]
  switch (mutation.spelling) {
    case "padding":
      return replaceSegment(token, mutation.segment, `${chosen}${"=".repeat(1 + mutation.position % 2)}`)
    case "standard-alphabet": {
      const standard = (s: string) => Buffer.from(s, "base64url").toString("base64")
      const segment = standard(chosen) === chosen ? "signature" : mutation.segment
      return replaceSegment(token, segment, standard(parts[indexOf[segment]]))
    }
    case "trailing-bits": {
      const segment = chosen.length % 4 === 0 ? "signature" : mutation.segment
      const text = parts[indexOf[segment]]
      // With 2 or 3 characters in the last quantum, the lowest bit of the last one encodes nothing.
      const last = alphabet.indexOf(text.at(-1) ?? "A")
      return replaceSegment(token, segment, `${text.slice(0, -1)}${alphabet[last ^ 1]}`)
    }
    case "space":
    case "line-break":
    case "tab": {
      const char = mutation.spelling === "space" ? " " : mutation.spelling === "tab" ? "\t" : "\n"
      const at = mutation.position % (token.length + 1)
      return `${token.slice(0, at)}${char}${token.slice(at)}`
    }
  }
}

/** A copy of a header or claims object with `member` set to `value`, or removed when `value` is undefined. */
const withMember = (object: Record<string, unknown>, member: string, value: Json | undefined) => {
  const edited: Record<string, unknown> = { ...object }
  if (value === undefined) delete edited[member]
  else edited[member] = value
  return edited
}

const claimEdit = (claims: Record<string, unknown>, edit: ClaimTamper["edit"]): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...claims }
  switch (edit) {
    case "extend-expiry":
      out["exp"] = (typeof claims["exp"] === "number" ? claims["exp"] : 0) + 86_400
      break
    case "add-scope":
      out["scope"] = typeof claims["scope"] === "string" ? `${claims["scope"]} admin` : "admin"
      break
    case "add-permission":
      out["permissions"] = [...(Array.isArray(claims["permissions"]) ? claims["permissions"] : []), "*"]
      break
    case "change-subject":
      out["sub"] = typeof claims["sub"] === "string" ? `${claims["sub"]}-admin` : "admin"
      break
    case "add-audience":
      out["aud"] = [...(Array.isArray(claims["aud"]) ? claims["aud"] : [claims["aud"]]), "https://elsewhere.test"]
      break
    case "drop-token-id":
      if (claims["jti"] === undefined) out["jti"] = "forged"
      else delete out["jti"]
      break
    case "toggle-service":
      if (claims["client_id"] !== undefined && claims["client_id"] === claims["sub"]) delete out["client_id"]
      else out["client_id"] = claims["sub"] ?? "forged"
      break
  }
  return out
}

const otherValue = (value: unknown): Json =>
  typeof value === "string" ? `${value}x` : typeof value === "number" ? value + 1 : "x"

/** The JSON text of `object` with `member` repeated. */
const withDuplicate = (object: Record<string, unknown>, member: string): string => {
  const text = JSON.stringify(object)
  const name = JSON.stringify(member)
  const extra = `${name}:${JSON.stringify(otherValue(object[member]))}`
  const repeated = member in object ? extra : `${name}:${JSON.stringify("x")},${extra}`
  return `${text.slice(0, -1)}${text.length > 2 ? "," : ""}${repeated}}`
}

const misissue = (
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  flaw: Misissued["flaw"],
  now: number
): readonly [Record<string, unknown>, Record<string, unknown>] => {
  const h: Record<string, unknown> = { ...header }
  const c: Record<string, unknown> = { ...claims }
  switch (flaw) {
    case "audience-elsewhere":
      c["aud"] = "https://elsewhere.test"
      break
    case "audience-suffixed":
      c["aud"] = `${String(claims["aud"])}/`
      break
    case "audience-empty":
      c["aud"] = []
      break
    case "issuer-elsewhere":
      c["iss"] = "https://elsewhere.test"
      break
    case "issuer-suffixed":
      c["iss"] = `${String(claims["iss"])}/`
      break
    case "no-expiry":
      delete c["exp"]
      break
    case "no-issuer":
      delete c["iss"]
      break
    case "no-audience":
      delete c["aud"]
      break
    case "no-subject":
      delete c["sub"]
      delete c["client_id"]
      break
    case "lifetime-too-long":
      c["iat"] = now
      delete c["nbf"]
      c["exp"] = now + 86_401
      break
    case "type-jwt":
      h["typ"] = "JWT"
      break
    case "no-type":
      delete h["typ"]
      break
    case "nested-jwt":
      h["cty"] = "JWT"
      break
    case "unknown-critical-header":
      h["crit"] = ["x-warden-test"]
      h["x-warden-test"] = true
      break
    case "algorithm-mismatch":
      h["alg"] = "RS256"
      break
  }
  return [h, c]
}

/** Applies a mutation to a token the provider signed. */
export const apply = (token: string, mutation: Mutation): Effect.Effect<string, never, TestIdentityProvider> =>
  Effect.gen(function*() {
    const provider = yield* TestIdentityProvider
    const [h, c, s] = Jws.segments(token)
    const header = Jws.decodeObject(h)
    const claims = Jws.decodeObject(c)
    const kid = typeof header["kid"] === "string" ? header["kid"] : yield* provider.currentKid
    // Re-signing uses the key that signed the token, or the current one when the provider does not know its kid.
    const own = yield* provider.key(kid)
    const key = Option.isSome(own) ?
      own.value :
      Option.getOrElse(yield* provider.key(yield* provider.currentKid), () => provider.foreignKey)
    const now = Math.floor((yield* Clock.currentTimeMillis) / 1000)
    /** Signs the given header and claims (objects, or exact JSON text) with a key. */
    const signWith = (
      signer: typeof key,
      hdr: Record<string, unknown> | string,
      cls: Record<string, unknown> | string
    ) =>
      Jws.sign(
        signer,
        Jws.encode(typeof hdr === "string" ? hdr : JSON.stringify(hdr)),
        Jws.encode(typeof cls === "string" ? cls : JSON.stringify(cls))
      )
    switch (mutation._tag) {
      case "BitFlip": {
        const segment = Jws.segments(token)[indexOf[mutation.segment]]
        const i = mutation.index % Math.max(1, segment.length)
        const flipped = String.fromCharCode(segment.charCodeAt(i) ^ (1 << (mutation.bit % 8)))
        return replaceSegment(token, mutation.segment, `${segment.slice(0, i)}${flipped}${segment.slice(i + 1)}`)
      }
      case "Truncated": {
        const segment = Jws.segments(token)[indexOf[mutation.segment]]
        return replaceSegment(token, mutation.segment, segment.slice(0, mutation.keep % Math.max(1, segment.length)))
      }
      case "Respell":
        return respell(token, mutation)
      case "HeaderTamper":
        return `${Jws.encode(JSON.stringify(withMember(header, mutation.member, mutation.value)))}.${c}.${s}`
      case "ClaimTamper":
        return `${h}.${Jws.encode(JSON.stringify(claimEdit(claims, mutation.edit)))}.${s}`
      case "WrongTenant": {
        const own = claims["tid"]
        const tenant = mutation.tenant === own ? `${mutation.tenant}0` : mutation.tenant
        const edited = mutation.claim === "tid" ?
          { ...claims, tid: tenant } :
          { ...claims, tenants: [...(Array.isArray(claims["tenants"]) ? claims["tenants"] : []), tenant] }
        return `${h}.${Jws.encode(JSON.stringify(edited))}.${s}`
      }
      case "DuplicateMember": {
        const hdr = mutation.part === "header" ? withDuplicate(header, mutation.member) : JSON.stringify(header)
        const cls = mutation.part === "claims" ? withDuplicate(claims, mutation.member) : JSON.stringify(claims)
        return mutation.resigned ? yield* signWith(key, hdr, cls) : `${Jws.encode(hdr)}.${Jws.encode(cls)}.${s}`
      }
      case "Expired": {
        const exp = now - mutation.secondsAgo
        const { nbf: _, ...rest } = claims
        return yield* signWith(key, header, { ...rest, iat: exp - 300, exp })
      }
      case "NotYetValid": {
        const at = now + mutation.secondsAhead
        const { nbf: _, ...rest } = claims
        return yield* signWith(
          key,
          header,
          mutation.claim === "nbf" ? { ...rest, iat: now, nbf: at, exp: at + 300 } : { ...rest, iat: at, exp: at + 300 }
        )
      }
      case "Misissued": {
        const [hdr, cls] = misissue(header, claims, mutation.flaw, now)
        return yield* signWith(key, hdr, cls)
      }
      case "MalformedClaim":
        return yield* signWith(key, header, withMember(claims, mutation.claim, mutation.value))
      case "ForeignKey":
        return yield* signWith(
          provider.foreignKey,
          { ...header, kid: mutation.kid === "issuer" ? kid : provider.foreignKey.kid },
          claims
        )
      case "KeyConfusion": {
        const jwk = key.publicJwk
        const secret = mutation.secret === "jwk-json" ?
          new TextEncoder().encode(JSON.stringify(jwk)) :
          new Uint8Array(Buffer.from(jwk.x ?? "", "base64url"))
        return yield* Jws.signHmac(secret, Jws.encode(JSON.stringify({ ...header, alg: "HS256" })), c)
      }
      case "EmbeddedKey": {
        const foreign = provider.foreignKey
        const pointer = mutation.member === "jwk" ? foreign.publicJwk : "http://127.0.0.1:9/jwks"
        return yield* signWith(
          foreign,
          { ...header, kid: mutation.kid === "issuer" ? kid : foreign.kid, [mutation.member]: pointer },
          claims
        )
      }
      case "Resigned":
        return yield* Jws.sign(key, h, c)
      case "EcdsaTwin": {
        const twin = Jws.ecdsaTwin(s)
        return twin === undefined ? yield* Jws.sign(key, h, c) : `${h}.${c}.${twin}`
      }
      case "Reserialised":
        return mutation.part === "header" ?
          yield* Jws.sign(key, Jws.encode(Jws.write(header, mutation.spelling)), c) :
          yield* Jws.sign(key, h, Jws.encode(Jws.write(claims, mutation.spelling)))
    }
  })
