import { describe, expect, it } from "@effect/vitest"
import { Credential } from "@warden/core"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Bearer from "../src/internal/bearer.js"

const reasonOf = (headers: Record<string, string>) => {
  const result = Bearer.fromHeaders(headers)
  return Either.isLeft(result) ? [result.left.reason, result.left.code] : ["ok", Credential.secretOf(result.right)]
}

describe("bearer parsing (RFC 6750 §2.1)", () => {
  it("accepts the Bearer scheme case-insensitively and the b64token characters", () => {
    expect(reasonOf({ authorization: "Bearer abc.DEF-_~+/9==" })).toEqual(["ok", "abc.DEF-_~+/9=="])
    expect(reasonOf({ authorization: "bearer x" })).toEqual(["ok", "x"])
    expect(reasonOf({ authorization: "BEARER x" })).toEqual(["ok", "x"])
  })

  it("a header parsed before is answered again for its exact value only, never for one that shares its end", () => {
    const token = `eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.${"s".repeat(86)}`
    expect(reasonOf({ authorization: `Bearer ${token}` })).toEqual(["ok", token])
    expect(reasonOf({ authorization: `Bearer ${token}` })).toEqual(["ok", token])
    // The same last 32 characters, each refused or read as itself.
    expect(reasonOf({ authorization: `Basic ${token}` })).toEqual(["malformed_header", "invalid_request"])
    expect(reasonOf({ authorization: `Bearer ${token} ${token}` })).toEqual(["malformed_header", "invalid_request"])
    expect(reasonOf({ authorization: `Bearer x${token}` })).toEqual(["ok", `x${token}`])
    expect(reasonOf({ authorization: `Bearer ${token}` })).toEqual(["ok", token])
  })

  it("no header is missing_credentials with no error code", () => {
    expect(reasonOf({})).toEqual(["missing_credentials", null])
  })

  it.each([
    ["Basic dXNlcjpwYXNz"],
    ["Bearer"],
    ["Bearer "],
    ["Bearer\tabc"],
    ["Bearer abc def"],
    ["Bearer abc, Bearer def"],
    ["Bearer abc,def"],
    ["Bearer a=b"],
    ["Bearer abc "],
    [" Bearer abc"],
    ["Bearer\u00a0abc"],
    ["Bearer ab\u0441"],
    ["Bearerabc"],
    ["Token abc"]
  ])("refuses %j as invalid_request", (value) => {
    expect(reasonOf({ authorization: value })).toEqual(["malformed_header", "invalid_request"])
  })

  it("refuses an oversized header without reading it as a token", () => {
    const result = Bearer.fromHeaders({ authorization: `Bearer ${"a".repeat(Credential.maxAuthorizationLength)}` })
    expect(Either.isLeft(result) && result.left.reason).toBe("malformed_header")
  })

  it("per-RPC and transport headers: equal is fine, different is conflicting_credentials", () => {
    const read = (headers: Record<string, string>, transport: string) => {
      const result = Bearer.fromHeaders(headers, { authorization: transport, apiKey: undefined })
      return Either.isLeft(result) ? result.left.reason : Credential.secretOf(result.right)
    }
    // The merged headers hold the transport's value when no per-RPC header replaced it.
    expect(read({ authorization: "Bearer a" }, "Bearer a")).toBe("a")
    expect(read({ authorization: "Bearer b" }, "Bearer a")).toBe("conflicting_credentials")
    // A merged set without the transport's header (a per-RPC header removed it?) conflicts too.
    expect(read({}, "Bearer a")).toBe("conflicting_credentials")
  })

  it("reads an API key from x-api-key or the ApiKey scheme, and refuses it beside a token or twice different", () => {
    const key = `wk_${"0123456789abcdef".repeat(5)}`
    const read = (headers: Record<string, string>, transport?: Bearer.Transport) => {
      const result = Bearer.fromHeaders(headers, transport)
      return Either.isLeft(result) ? result.left.reason : `${result.right._tag} ${Credential.secretOf(result.right)}`
    }
    expect(read({ "x-api-key": key })).toBe(`ApiKey ${key}`)
    expect(read({ authorization: `ApiKey ${key}` })).toBe(`ApiKey ${key}`)
    expect(read({ authorization: `apikey ${key}` })).toBe(`ApiKey ${key}`)
    expect(read({ "x-api-key": key, authorization: "Bearer t" })).toBe("conflicting_credentials")
    expect(read({ "x-api-key": key }, { authorization: undefined, apiKey: "other" })).toBe("conflicting_credentials")
    expect(read({ "x-api-key": key }, { authorization: undefined, apiKey: key })).toBe(`ApiKey ${key}`)
    for (const bad of ["", `${key} ${key}`, `${key},${key}`, "a".repeat(257), "k\u00e9y"]) {
      expect(read({ "x-api-key": bad })).toBe("malformed_header")
    }
  })

  it("reads the API key from the header the service names instead, and only from it", () => {
    const key = `wk_${"0123456789abcdef".repeat(5)}`
    const read = (headers: Record<string, string>) => {
      const result = Bearer.fromHeaders(headers, undefined, "x-service-key")
      return Either.isLeft(result) ? result.left.reason : `${result.right._tag} ${Credential.secretOf(result.right)}`
    }
    expect(read({ "x-service-key": key })).toBe(`ApiKey ${key}`)
    expect(read({ "x-api-key": key })).toBe("missing_credentials")
    expect(read({ "x-service-key": key, authorization: "Bearer t" })).toBe("conflicting_credentials")
  })

  it.prop(
    "a refusal never echoes the header it refused",
    [FastCheck.string({ minLength: 1, maxLength: 64 })],
    ([s]) => {
      const secret = `Zq${s}Zq`
      const result = Bearer.fromHeaders({ authorization: `Bearer ${secret} junk` })
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left.description).not.toContain(secret)
        expect(JSON.stringify(result.left)).not.toContain(secret)
      }
    },
    { fastCheck: { numRuns: 1000 } }
  )
})
