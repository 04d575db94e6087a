import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as crypto from "node:crypto"
import * as Compact from "../src/internal/compact.js"
import { Lru } from "../src/internal/lru.js"
import * as Native from "../src/internal/native.js"
import * as StrictJson from "../src/internal/strictJson.js"

/** Parses a text as the verifier does: with its UTF-8 bytes beside it. */
const parse = (text: string) => StrictJson.parseEncoded(text, Buffer.from(text, "utf8"))

describe("strict JSON", () => {
  it.prop(
    "agrees with JSON.parse on JSON without repeated member names",
    [FastCheck.jsonValue({ maxDepth: 4 })],
    ([value]) => {
      const text = JSON.stringify(value)
      expect(parse(text)).toEqual(Either.right(JSON.parse(text)))
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.prop(
    "agrees with JSON.parse on JSON of any characters, and refuses it with one member name repeated",
    [FastCheck.unicodeJsonValue({ maxDepth: 3 }), FastCheck.fullUnicodeString({ minLength: 1, maxLength: 8 })],
    ([value, name]) => {
      const text = JSON.stringify(value)
      // The scan reads UTF-8 bytes: multi-byte characters, in names and in values, are never structure.
      expect(StrictJson.parseEncoded(text, Buffer.from(text, "utf8"))).toEqual(Either.right(JSON.parse(text)))
      const repeated = `{${JSON.stringify(name)}:${text},"x":[${text}],${JSON.stringify(name)}:1}`
      expect(parse(repeated)).toEqual(Either.left("duplicate member name"))
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it.each([
    ["{\"tid\":\"acme\",\"tid\":\"globex\"}"],
    ["{\"a\":{\"x\":1,\"x\":1}}"],
    ["{\"t\\u0069d\":\"acme\",\"tid\":\"globex\"}"],
    ["[{\"a\":1,\"a\":2}]"]
  ])("refuses a repeated member name, however spelt: %s", (text) => {
    expect(parse(text)).toEqual(Either.left(expect.stringContaining("duplicate member name")))
  })

  it.each([["{"], ["{\"a\":1,}"], ["[1,]"], ["01"], ["\"a"], ["{} x"], ["nul"], ["\"\u0001\""], [""]])(
    "refuses malformed JSON %j",
    (text) => {
      expect(Either.isLeft(parse(text))).toBe(true)
    }
  )

  it.each([
    ["{\"a\\\"b\":1,\"a\\\"b\":2}"],
    ["{\"a:b\":1,\"a:b\":2}"],
    ["{\"x\":\"{\\\"y\\\":1}\",\"x\":2}"]
  ])("counts member names, not what strings hold: %s", (text) => {
    expect(parse(text)).toEqual(Either.left("duplicate member name"))
  })

  it("does not count a colon, brace or escaped quote inside a string as structure", () => {
    const text = "{\"a:b\":\"c\\\":{d\",\"e\":[\"]:[\"]}"
    expect(parse(text)).toEqual(Either.right(JSON.parse(text)))
  })

  it("decodes objects without a prototype, so a missing member reads nothing", () => {
    const value = Either.getOrThrow(parse("{\"a\":{\"b\":[{}]}}")) as Record<string, Record<string, unknown>>
    expect(value["constructor"]).toBeUndefined()
    expect(value["a"]!["toString"]).toBeUndefined()
    expect(Object.getPrototypeOf((value["a"]!["b"] as Array<object>)[0])).toBeNull()
  })

  it("never repeats the input in an error", () => {
    const secret = "{\"sub\":\"s3cr3t\",}"
    expect(parse(secret)).toEqual(Either.left("malformed JSON"))
  })

  it("bounds nesting without exhausting the stack", () => {
    expect(parse("[".repeat(100_000) + "]".repeat(100_000))).toEqual(
      Either.left(expect.stringContaining("nesting too deep"))
    )
  })
})

describe("canonical base64url", () => {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
  /** The definition, independently of the decoder: alphabet only, a length that can end, no stray trailing bits. */
  const canonical = (segment: string): boolean => {
    if (!/^[A-Za-z0-9_-]*$/.test(segment) || segment.length % 4 === 1) return false
    const rest = segment.length % 4
    if (rest === 0) return true
    return (alphabet.indexOf(segment[segment.length - 1]!) & (rest === 2 ? 0x0f : 0x03)) === 0
  }
  const characters = FastCheck.oneof(
    { weight: 8, arbitrary: FastCheck.constantFrom(...alphabet) },
    { weight: 1, arbitrary: FastCheck.constantFrom("+", "/", "=", ".", " ", "\n", "\t", "%", "é", "\u0100", "\ud83d") },
    { weight: 1, arbitrary: FastCheck.char16bits() }
  )

  it.prop("gives back the bytes of every canonical encoding", [FastCheck.uint8Array({ maxLength: 300 })], ([bytes]) => {
    const decoded = Compact.decodeBase64Url(Buffer.from(bytes).toString("base64url"))
    expect(decoded === undefined ? undefined : [...decoded]).toEqual([...bytes])
  }, { fastCheck: { numRuns: 1000 } })

  it.prop(
    "decodes a segment exactly when it is canonical by definition",
    [FastCheck.array(characters, { maxLength: 40 }).map((cs) => cs.join(""))],
    ([segment]) => {
      expect(Compact.decodeBase64Url(segment) !== undefined).toBe(canonical(segment))
    },
    { fastCheck: { numRuns: 5000 } }
  )

  it.each(["QQ==", "QR", "QUJ", "Q", "QUJD+A", "QUJD/A", "QU JD", "QUJD\n", "QUJDé", "QUJD.QUJD"])(
    "refuses %j",
    (segment) => {
      expect(Compact.decodeBase64Url(segment)).toBeUndefined()
    }
  )
})

describe("the compact check", () => {
  const header = Buffer.from("{\"alg\":\"ES256\"}").toString("base64url")
  const claims = Buffer.from("{\"sub\":\"a\"}").toString("base64url")

  it("accepts three canonical base64url segments with JSON objects", () => {
    expect(Either.isRight(Compact.split(`${header}.${claims}.AAAA`, 8192))).toBe(true)
  })

  it.each([
    [`${header}.${claims}`],
    [`${header}.${claims}.`],
    [`${header}.${claims}.AAAA.AAAA.AAAA`],
    [` ${header}.${claims}.AAAA`],
    [`${header}.${claims}.AAAA=`],
    [`${header}.${claims}.AAB`],
    [`${header}=.${claims}.AAAA`],
    [`${Buffer.from("[1]").toString("base64url")}.${claims}.AAAA`],
    [`${header}.${Buffer.from("\"jwt\"").toString("base64url")}.AAAA`],
    [`${header}.${Buffer.from([0xff, 0xfe]).toString("base64url")}.AAAA`],
    [`.${claims}.AAAA`],
    [`${header}..AAAA`],
    [".."],
    [`${header}.${claims}.AA+A`],
    [`${header}.${claims}é.AAAA`],
    [`${header}é.${claims}.AAAA`],
    [`${header}.${claims}.AAAA\n`]
  ])("refuses %s as malformed", (token) => {
    const result = Compact.split(token, 8192)
    expect(Either.isLeft(result) && result.left.reason).toBe("malformed")
  })

  it("refuses a token over the cap as too_large before looking at it", () => {
    const result = Compact.split("%".repeat(8193), 8192)
    expect(Either.isLeft(result) && result.left.reason).toBe("too_large")
  })
})

describe("the LRU", () => {
  it("keeps at most its capacity, forgetting the least recently used", () => {
    const lru = new Lru<string, number>(2)
    lru.set("a", 1)
    lru.set("b", 2)
    expect(lru.get("a")).toBe(1)
    lru.set("c", 3)
    expect([lru.get("a"), lru.get("b"), lru.get("c"), lru.size]).toEqual([1, undefined, 3, 2])
    lru.deleteWhere((v) => v === 3)
    expect(lru.size).toBe(1)
  })

  it("never holds more than its capacity, and keeps what is read once it is half full", () => {
    const lru = new Lru<number, number>(8)
    for (let i = 0; i < 100; i++) {
      lru.set(i, i)
      // Entry 0 is read after every insertion: from half full on, that keeps it.
      if (i >= 4) expect(lru.get(0)).toBe(0)
      expect(lru.size).toBeLessThanOrEqual(8)
    }
    expect(lru.get(0)).toBe(0)
    expect(lru.get(1)).toBeUndefined()
    expect([...Array.from({ length: 100 }, (_, i) => lru.get(i))].filter((v) => v !== undefined)).toHaveLength(8)
  })
})

describe("the native signature path", () => {
  const input = `${Buffer.from("{\"alg\":\"x\"}").toString("base64url")}.${
    Buffer.from("{\"sub\":\"a\"}").toString("base64url")
  }`
  const rsa = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 })
  const ec = (namedCurve: string) => crypto.generateKeyPairSync("ec", { namedCurve })
  const ed = crypto.generateKeyPairSync("ed25519")
  const secret = crypto.createSecretKey(crypto.randomBytes(64))
  const pss = (bits: number) => ({
    padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
    saltLength: bits / 8
  })
  // Each algorithm signed by node:crypto's one-shot API, independently of the verifier's streaming calls.
  const cases: ReadonlyArray<readonly [string, crypto.KeyObject, () => Buffer]> = [
    ...[256, 384, 512].flatMap((bits) => [
      [`RS${bits}`, rsa.publicKey, () => crypto.sign(`sha${bits}`, Buffer.from(input), rsa.privateKey)] as const,
      [
        `PS${bits}`,
        rsa.publicKey,
        () => crypto.sign(`sha${bits}`, Buffer.from(input), { key: rsa.privateKey, ...pss(bits) })
      ] as const,
      [`HS${bits}`, secret, () => crypto.createHmac(`sha${bits}`, secret).update(input).digest()] as const
    ]),
    ...([["ES256", "prime256v1", "sha256"], ["ES384", "secp384r1", "sha384"], [
      "ES512",
      "secp521r1",
      "sha512"
    ]] as const)
      .map(([alg, curve, hash]) => {
        const pair = ec(curve)
        return [
          alg,
          pair.publicKey,
          () => crypto.sign(hash, Buffer.from(input), { key: pair.privateKey, dsaEncoding: "ieee-p1363" })
        ] as const
      }),
    ["EdDSA", ed.publicKey, () => crypto.sign(null, Buffer.from(input), ed.privateKey)]
  ]

  it.each(cases)(
    "verifies %s, and refuses a changed signature, a changed input and a shortened signature",
    (alg, key, sign) => {
      expect(Native.keyProblem(alg, key)).toBeUndefined()
      const signature = sign()
      expect(Native.verify(alg, key, input, signature)).toBe(true)
      const flipped = Buffer.from(signature)
      flipped[flipped.length >> 1]! ^= 0x01
      expect(Native.verify(alg, key, input, flipped)).toBe(false)
      expect(Native.verify(alg, key, `${input}A`, signature)).toBe(false)
      expect(Native.verify(alg, key, input, signature.subarray(1))).toBe(false)
    }
  )

  it("refuses an ECDSA signature in DER, the encoding JWS does not use", () => {
    const pair = ec("prime256v1")
    const der = crypto.sign("sha256", Buffer.from(input), pair.privateKey)
    expect(crypto.verify("sha256", Buffer.from(input), pair.publicKey, der)).toBe(true)
    expect(Native.verify("ES256", pair.publicKey, input, der)).toBe(false)
  })
})
