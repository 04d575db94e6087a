/**
 * Wycheproof (C2SP/wycheproof, Apache-2.0) vectors run through the paths
 * Warden verifies with. The vectors are kept in the repository, unchanged,
 * under `test/vectors/wycheproof` (with their licence); when one is missing
 * every test here fails, naming the path it looked for.
 *
 * JSON Web Signature and JSON Web Key vectors: both files are "verify this
 * compact JWS with this key (set)" cases, so both go through one path, the
 * one a Warden verifier takes:
 *
 * 1. `Compact.split`, Warden's strict compact check (three non-empty
 *    canonical base64url segments, the header a strict JSON object). The
 *    vectors' payloads are not JWT claims sets ("foo", "Test", raw bytes):
 *    when the check's only objection is that the payload is not a JSON
 *    object (or not UTF-8, or not JSON), that objection belongs to the JWT
 *    layer above JWS, and the vector goes on to step 2. Every other objection
 *    (whitespace, padding, stray characters, trailing bits, a header that is
 *    not a strict JSON object, an empty segment) refuses it.
 * 2. The algorithm allow-list: every asymmetric algorithm Warden can be
 *    configured with, plus an HS* algorithm when an HMAC secret is configured.
 * 3. The key. Asymmetric keys come from the group's key set served by a
 *    loopback JWKS endpoint into a real `KeyStore` (`JwksSource.decode` drops
 *    private keys, symmetric keys and keys not for signatures; the store
 *    matches `kid` and the key's `alg`/`kty`/`crv` to the token's `alg` and
 *    imports with `jose.importJWK`). The vectors' key set is the group's
 *    `public` member, or its `private` member when it has none, as the
 *    Wycheproof harnesses do. A symmetric key never comes from a key set in
 *    Warden (it is dropped there as private): it can only be the configured
 *    `hmacSecret`. So when the group's key set is exactly one `oct` key, the
 *    verifier is configured with it (`JwtVerifier.make` with `algorithms`
 *    including the key's `alg` and `hmacSecret` its bytes, which is where
 *    Warden's length rules apply); otherwise no secret is configured.
 *    The store turns the key into a node:crypto `KeyObject` and checks it for
 *    the algorithm (an RSA modulus of at least 2048 bits, the curve).
 * 4. The signature through Warden's native path (`Native.verify`, node:crypto)
 *    with that key.
 *
 * ECDSA P-256 / SHA-256 P1363 vectors: the same native ES256 verify, with the
 * key imported by `jose.importJWK` and turned into a `KeyObject` as the key
 * store does. A JWS cannot carry them: the signed message of a JWS is its own
 * `header.payload` text, and these vectors sign arbitrary messages, handed to
 * the native path as the latin1 text of their bytes.
 *
 * Every result must match the vector's (`acceptable` either way, recorded);
 * the exceptions are listed by tcId with the evidence that the vector is
 * wrong or does not apply, and the mismatches must be exactly those.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { describe, expect, it } from "@effect/vitest"
import { JwksSource, JwtVerifier, KeyStore, RevocationStore } from "@warden/jwt"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as jose from "jose"
import { createPrivateKey, createSecretKey, KeyObject, sign } from "node:crypto"
import type { JsonWebKey as NodeJwk } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Compact from "../src/internal/compact.js"
import * as Native from "../src/internal/native.js"
import { JwksServer } from "./support/jwksServer.js"

const folder = new URL("../../../test/vectors/wycheproof/", import.meta.url)

/** Reads a vector file; throws (failing the test) when it is not where it must be. */
const load = <A>(name: string): A => {
  const url = new URL(name, folder)
  if (!existsSync(url)) {
    throw new Error(
      `Wycheproof vectors not found at ${fileURLToPath(url)}: they belong in test/vectors/wycheproof`
    )
  }
  return JSON.parse(readFileSync(url, "utf8")) as A
}

type Result = "valid" | "invalid" | "acceptable"
type Jwk = Readonly<Record<string, unknown>>

interface JwsVector {
  readonly tcId: number
  readonly comment: string
  readonly jws: string
  readonly result: Result
  readonly flags: ReadonlyArray<string>
}

interface VectorFile<G> {
  readonly numberOfTests: number
  readonly testGroups: ReadonlyArray<G>
}

interface JwsGroup {
  readonly comment: string
  readonly public?: Jwk
  readonly private?: Jwk
  readonly tests: ReadonlyArray<JwsVector>
}

interface JwkGroup {
  readonly comment: string
  readonly public?: { readonly keys: ReadonlyArray<Jwk> }
  readonly private?: { readonly keys: ReadonlyArray<Jwk> }
  readonly tests: ReadonlyArray<JwsVector>
}

interface EcdsaVector {
  readonly tcId: number
  readonly comment: string
  readonly msg: string
  readonly sig: string
  readonly result: Result
  readonly flags: ReadonlyArray<string>
}

interface EcdsaGroup {
  readonly publicKey: { readonly uncompressed: string }
  /** Absent from some groups: the uncompressed point is what every group has. */
  readonly publicKeyJwk?: Jwk
  readonly publicKeyDer: string
  readonly sha: string
  readonly tests: ReadonlyArray<EcdsaVector>
}

/** `accepted`, or `refused at <stage>`. */
type Outcome = string

interface Verdict {
  readonly tcId: number
  readonly result: Result
  readonly outcome: Outcome
}

/** A vector whose result Warden does not give, and why that is right. */
interface Exception {
  readonly tcId: number
  readonly outcome: Outcome
  readonly why: string
}

const asymmetric: ReadonlyArray<JwtVerifier.Algorithm> = JwtVerifier.algorithms.filter((a) => !a.startsWith("HS"))

/** The compact check's objections that are about the payload not being a JWT claims set. */
const notAClaimsSet = /^the claims set is not (strict JSON|a JSON object|UTF-8)/

interface Path {
  readonly keys: KeyStore.KeyStore["Type"]
  /** The configured HMAC secret; `refused` when Warden refused the configuration (`InvalidOptions`). */
  readonly hmac: { readonly alg: string; readonly secret: Uint8Array } | "refused" | undefined
  readonly allowed: ReadonlySet<string>
}

/** Warden's path for one compact JWS (see the file comment). */
const verifyJws = (jws: string, path: Path): Effect.Effect<Outcome> =>
  Effect.gen(function*() {
    const parts = Compact.split(jws, 8 * 1024)
    let header: Readonly<Record<string, unknown>>
    if (Either.isLeft(parts)) {
      if (!notAClaimsSet.test(parts.left.description)) return `refused at compact (${parts.left.reason})`
      // The header passed the strict check already (it runs before the payload's).
      header = JSON.parse(Buffer.from(jws.split(".")[0]!, "base64url").toString("utf8")) as Record<string, unknown>
    } else {
      header = parts.right.header
    }
    const alg = header["alg"]
    if (typeof alg !== "string" || !(path.allowed.has(alg) || (alg.startsWith("HS") && path.hmac === "refused"))) {
      return "refused at algorithm"
    }
    let key: KeyObject
    if (alg.startsWith("HS")) {
      if (path.hmac === "refused") return "refused at configuration (InvalidOptions)"
      if (path.hmac === undefined) return "refused at algorithm"
      key = createSecretKey(path.hmac.secret)
    } else {
      const kid = header["kid"]
      if (kid !== undefined && typeof kid !== "string") return "refused at kid"
      const found = yield* Effect.either(path.keys.find({ kid, alg }))
      if (Either.isLeft(found)) return `refused at key (${found.left.reason})`
      key = found.right.keyObject
    }
    const signature = Buffer.from(jws.slice(jws.lastIndexOf(".") + 1), "base64url")
    return Native.verify(alg, key, jws.slice(0, jws.lastIndexOf(".")), signature) ?
      "accepted" :
      "refused at signature"
  })

/** Configures the verifier's HMAC secret from a lone symmetric key, as an operator would, or says Warden refuses to. */
const configureHmac = (jwk: Jwk) =>
  Effect.gen(function*() {
    const alg = String(jwk["alg"])
    const secret = new Uint8Array(Buffer.from(String(jwk["k"]), "base64url"))
    const made = yield* JwtVerifier.make({
      issuers: ["https://wycheproof.test"],
      audience: "wycheproof",
      algorithms: [...asymmetric, alg as JwtVerifier.Algorithm],
      hmacSecret: Redacted.make(secret),
      cacheSize: 0
    }).pipe(
      Effect.provide(RevocationStore.layerNone),
      Effect.provideService(KeyStore.KeyStore, {} as KeyStore.KeyStore["Type"]),
      Effect.either
    )
    return Either.isRight(made) ? { alg, secret } : "refused" as const
  })

/** Runs one group's vectors with its key set published by `server` into a real key store. */
const runGroup = (
  server: JwksServer,
  keySet: ReadonlyArray<Jwk>,
  tests: ReadonlyArray<JwsVector>
) =>
  Effect.gen(function*() {
    server.serve({ keys: keySet })
    const keys = yield* KeyStore.make({ jwksUrl: server.url, allowInsecureLoopback: true }).pipe(
      Effect.provide(NodeHttpClient.layerUndici)
    )
    const only = keySet.length === 1 ? keySet[0] : undefined
    const hmac = only?.["kty"] === "oct" ? yield* configureHmac(only) : undefined
    const allowed = new Set<string>(typeof hmac === "object" ? [...asymmetric, hmac.alg] : asymmetric)
    const path: Path = { keys, hmac, allowed }
    const verdicts: Array<Verdict> = []
    for (const test of tests) {
      verdicts.push({ tcId: test.tcId, result: test.result, outcome: yield* verifyJws(test.jws, path) })
    }
    return verdicts
  }).pipe(Effect.scoped)

const mismatch = ({ outcome, result }: Verdict) =>
  (result === "valid" && outcome !== "accepted") || (result === "invalid" && outcome === "accepted")

const summarize = (verdicts: ReadonlyArray<Verdict>, exceptions: ReadonlyArray<Exception>) => {
  const count = (result: Result) => verdicts.filter((v) => v.result === result).length
  const acceptable = verdicts.filter((v) => v.result === "acceptable")
  return {
    total: verdicts.length,
    valid: count("valid"),
    invalid: count("invalid"),
    acceptable: count("acceptable"),
    acceptableAccepted: acceptable.filter((v) => v.outcome === "accepted").map((v) => v.tcId),
    acceptableRefused: acceptable.filter((v) => v.outcome !== "accepted").map((v) => v.tcId),
    accepted: verdicts.filter((v) => v.outcome === "accepted").length,
    mismatches: verdicts.filter(mismatch).map(({ outcome, tcId }) => ({ tcId, outcome })),
    exceptions: exceptions.map(({ outcome, tcId }) => ({ tcId, outcome }))
  }
}

const emptyPayload = "not applicable: the payload segment is empty. A JWT's payload is its claims set, a JSON object " +
  "(RFC 7519 §7.2), so Warden's compact check requires three non-empty segments; this vector tests a JWS with an " +
  "empty payload, which no JWT has."

const rfc7520KeyAlg = (tokenAlg: string, keyAlg: string) =>
  `vector wrong: the JWS is RFC 7520's ${tokenAlg} example, but the group's key carries "alg": "${keyAlg}", ` +
  `which RFC 7520's key does not. A key that declares an alg is for that alg only (RFC 7517 §4.4, RFC 8725 §3.1), ` +
  `and this file says so itself: tcIds 331-340 (flag WrongPrimitive, "the signature uses a different algorithm than ` +
  `the algorithm specified in the key") are invalid for exactly this mismatch. Warden's key store refuses the key.`

const paddingVectorBroken = "vector wrong: the string is byte for byte the valid tcId 357 (its comment names " +
  "padding that is not there; upstream's generator wrote Python bytes reprs b'...' and the later fix stripped them, " +
  "commits de8f0c1 and bbbfa86). A vector cannot be both valid and invalid; Warden accepts it as it accepts 357."

const strayCharacter = (where: string) =>
  `vector wrong: a '?' is inserted in the ${where} segment, which RFC 7515 §2 forbids (base64url "without the ` +
  `inclusion of any line breaks, whitespace, or other additional characters"); the same file labels the same ` +
  `insertion invalid in tcIds 361, 362 and 371, and upstream's own jose4j and Nimbus harnesses list this vector ` +
  `among the malformed-base64 cases. Warden's compact check refuses it.`

const jwsExceptions: ReadonlyArray<Exception> = [
  ...[259, 264, 268, 272, 320, 325].map((tcId) => ({
    tcId,
    outcome: "refused at compact (malformed)",
    why: emptyPayload
  })),
  { tcId: 346, outcome: "refused at key (unknown_key)", why: rfc7520KeyAlg("PS384", "PS256") },
  { tcId: 347, outcome: "refused at key (unknown_key)", why: rfc7520KeyAlg("ES512", "ES521") },
  { tcId: 350, outcome: "refused at key (unknown_key)", why: rfc7520KeyAlg("PS384", "PS256") },
  { tcId: 351, outcome: "refused at key (unknown_key)", why: rfc7520KeyAlg("ES512", "ES521") },
  { tcId: 367, outcome: "accepted", why: paddingVectorBroken },
  { tcId: 370, outcome: "accepted", why: paddingVectorBroken },
  { tcId: 372, outcome: "refused at compact (malformed)", why: strayCharacter("header") },
  { tcId: 373, outcome: "refused at compact (malformed)", why: strayCharacter("payload") }
]

const jwkExceptions: ReadonlyArray<Exception> = [
  {
    tcId: 2,
    outcome: "refused at algorithm",
    why: "not applicable: the key set holds two HS256 secrets chosen by kid. Warden never takes a symmetric key " +
      "from a key set (JwksSource drops it as private) and holds one HMAC secret, from configuration, so no HS* " +
      "token can be verified against this set."
  },
  {
    tcId: 7,
    outcome: "accepted",
    why: "not applicable to signature verification: the RSA modulus carries the ROCA fingerprint (CVE-2017-15361), " +
      "a key-generation flaw. The key is otherwise a sound 2048-bit RSA key and the signature is valid; neither " +
      "Warden, jose nor WebCrypto screens published keys for ROCA (known limitation: vetting the issuer's keys is " +
      "the issuer's job)."
  }
]

describe("Wycheproof", () => {
  it("finds the vectors in the repository", () => {
    for (
      const name of ["json_web_signature_test.json", "json_web_key_test.json", "ecdsa_secp256r1_sha256_p1363_test.json"]
    ) {
      expect(existsSync(new URL(name, folder)), fileURLToPath(new URL(name, folder))).toBe(true)
    }
  })

  it.scoped("JSON Web Signature: every vector through the compact check, the key store and the native signature path", () =>
    Effect.gen(function*() {
      const file = load<VectorFile<JwsGroup>>("json_web_signature_test.json")
      const server = yield* JwksServer
      const verdicts: Array<Verdict> = []
      for (const group of file.testGroups) {
        const key = group.public ?? group.private
        verdicts.push(...(yield* runGroup(server, key === undefined ? [] : [key], group.tests)))
      }
      expect(verdicts.length).toBe(file.numberOfTests)
      const summary = summarize(verdicts, jwsExceptions)
      expect(summary.mismatches).toEqual(summary.exceptions)
      expect(summary).toMatchObject({
        total: 401,
        valid: 46,
        invalid: 355,
        acceptable: 0,
        acceptableAccepted: [],
        acceptableRefused: [],
        accepted: 46 - 12 + 2
      })
    }))

  it.scoped("JSON Web Key: every key set through JwksSource, the key store (or the HMAC secret) and the native path", () =>
    Effect.gen(function*() {
      const file = load<VectorFile<JwkGroup>>("json_web_key_test.json")
      const server = yield* JwksServer
      const verdicts: Array<Verdict> = []
      const probes: Array<Verdict> = []
      const kept: Array<[string, number, ReadonlyArray<JwksSource.Dropped>]> = []
      for (const group of file.testGroups) {
        const keySet = (group.public ?? group.private)?.keys ?? []
        const decoded = JwksSource.decode({ keys: keySet })
        if (Either.isRight(decoded)) kept.push([group.comment, decoded.right.keys.length, decoded.right.dropped])
        verdicts.push(...(yield* runGroup(server, keySet, group.tests)))
        // A vector about a flawed key whose JWS also has an empty payload is refused by the compact check before
        // the key matters. Probe the key itself: the same header over a JWT-shaped payload, signed with the
        // group's private key, must be refused too.
        const probed = group.tests.filter((t) => t.result === "invalid" && t.jws.split(".")[1] === "")
        for (const test of probed) {
          const [h = ""] = test.jws.split(".")
          expect(JSON.parse(Buffer.from(h, "base64url").toString("utf8"))).toMatchObject({ alg: "RS256" })
          const p = Buffer.from(JSON.stringify({ iss: "https://wycheproof.test", exp: 4_000_000_000 })).toString(
            "base64url"
          )
          const privateKey = createPrivateKey({ key: group.private!.keys[0] as NodeJwk, format: "jwk" })
          const jws = `${h}.${p}.${sign("sha256", Buffer.from(`${h}.${p}`), privateKey).toString("base64url")}`
          probes.push(...(yield* runGroup(server, keySet, [{ ...test, jws }])))
        }
      }
      expect(probes.map(({ outcome, tcId }) => ({ tcId, outcome }))).toEqual([
        // 1024-bit modulus: the key store refuses it for RS256, which needs 2048 bits (RFC 7518 §3.3).
        { tcId: 8, outcome: "refused at key (unknown_key)" },
        // Public exponent 1: JwksSource drops the key (before it did, this probe was accepted).
        { tcId: 9, outcome: "refused at key (unknown_key)" }
      ])
      expect(verdicts.length).toBe(file.numberOfTests)
      const summary = summarize(verdicts, jwkExceptions)
      expect(summary.mismatches).toEqual(summary.exceptions)
      // Secrets shorter than the hash (RFC 7518 §3.2), empty, or declared for another algorithm are refused as the
      // configured hmacSecret: the HS256 31-byte, HS384 47-byte, HS512 63-byte and empty keys, and the AES keys.
      expect(verdicts.filter((v) => v.outcome.startsWith("refused at configuration")).map((v) => v.tcId)).toEqual([
        10,
        11,
        12,
        16,
        17,
        18,
        25,
        26
      ])
      expect(summary).toMatchObject({
        total: 26,
        valid: 5,
        invalid: 21,
        acceptable: 0,
        acceptableAccepted: [],
        acceptableRefused: [],
        accepted: 5 - 1 + 1
      })
      // What JwksSource keeps of each set: symmetric and private keys never, keys for encryption never, RSA keys
      // without a usable public exponent (e = 1, or none) never.
      expect(kept.filter(([, n]) => n > 0).map(([comment]) => comment)).toEqual([
        "jws_mixedSymmetryKeyset",
        "rs256",
        "jws_rsa_roca_key",
        "keysize_too_small",
        "wrong_algorithm",
        "invalid_algorithm",
        "invalid_point",
        "wrong_curve"
      ])
    }))

  it.effect("ECDSA P-256 SHA-256 P1363: every vector through the native ES256 verify", () =>
    Effect.gen(function*() {
      const file = load<VectorFile<EcdsaGroup>>("ecdsa_secp256r1_sha256_p1363_test.json")
      const verdicts: Array<Verdict> = []
      for (const group of file.testGroups) {
        expect(group.sha).toBe("SHA-256")
        const point = Buffer.from(group.publicKey.uncompressed, "hex")
        expect([point.length, point[0]]).toEqual([65, 4])
        const jwk = {
          kty: "EC",
          crv: "P-256",
          x: point.subarray(1, 33).toString("base64url"),
          y: point.subarray(33).toString("base64url")
        }
        if (group.publicKeyJwk !== undefined) expect(group.publicKeyJwk).toMatchObject(jwk)
        // The key as Warden would hold it: kept by JwksSource, imported by jose.
        const decoded = JwksSource.decode({ keys: [jwk] })
        expect(Either.isRight(decoded) && decoded.right.keys.length).toBe(1)
        const imported = yield* Effect.promise(() =>
          jose.importJWK(jwk as jose.JWK, "ES256") as Promise<jose.CryptoKey>
        )
        const key = KeyObject.from(imported)
        expect(Native.keyProblem("ES256", key)).toBeUndefined()
        for (const test of group.tests) {
          const message = Buffer.from(test.msg, "hex").toString("latin1")
          const ok = Native.verify("ES256", key, message, Buffer.from(test.sig, "hex"))
          verdicts.push({ tcId: test.tcId, result: test.result, outcome: ok ? "accepted" : "refused at ECDSA verify" })
        }
      }
      expect(verdicts.length).toBe(file.numberOfTests)
      const summary = summarize(verdicts, [])
      expect(summary.mismatches).toEqual([])
      expect(summary).toMatchObject({
        total: 262,
        valid: 173,
        invalid: 89,
        acceptable: 0,
        acceptableAccepted: [],
        acceptableRefused: [],
        accepted: 173
      })
    }))
})
