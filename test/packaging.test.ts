/**
 * What each published package carries: its README, the MIT LICENSE its
 * package.json names, the built modules and their sources, and nothing of
 * its tests. Read from `npm pack --dry-run`, the list npm would publish.
 */
import { describe, expect, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"

const root = new URL("..", import.meta.url)
const packages = ["core", "jwt", "oauth", "rpc", "http", "redis", "token-service", "testing"] as const

const packed = (name: string): ReadonlyArray<string> => {
  const out = execFileSync("npm", ["pack", "--dry-run", "--json", `--workspace=@warden/${name}`], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"]
  })
  const [entry] = JSON.parse(out) as ReadonlyArray<{ readonly files: ReadonlyArray<{ readonly path: string }> }>
  return entry!.files.map((f) => f.path)
}

describe("packaging", () => {
  for (const name of packages) {
    it(`@warden/${name} ships its README, its LICENSE, dist and src, and no tests`, () => {
      const files = packed(name)
      expect(files).toContain("README.md")
      expect(files).toContain("LICENSE")
      expect(files).toContain("package.json")
      expect(files).toContain("dist/src/index.js")
      expect(files).toContain("dist/src/index.d.ts")
      expect(files).toContain("src/index.ts")
      expect(files.filter((f) => f.startsWith("test/") || f.startsWith("dist/test/"))).toEqual([])
      const manifest = JSON.parse(readFileSync(new URL(`packages/${name}/package.json`, root), "utf8"))
      expect(manifest.license).toBe("MIT")
      expect(readFileSync(new URL(`packages/${name}/LICENSE`, root), "utf8")).toContain("MIT License")
      expect(readFileSync(new URL(`packages/${name}/README.md`, root), "utf8")).toMatch(
        new RegExp(`^# @warden/${name}\\n`)
      )
    })
  }

  it("internal/ is private to each package; what packages share are public modules", () => {
    const require = createRequire(new URL("packages/rpc/package.json", root))
    for (const name of packages) {
      const manifest = JSON.parse(readFileSync(new URL(`packages/${name}/package.json`, root), "utf8"))
      expect(manifest.exports["./internal/*"]).toBeNull()
    }
    for (const internal of ["@warden/core/internal/literal", "@warden/jwt/internal/compact"]) {
      expect(() => require.resolve(internal)).toThrow(/is not defined by "exports"/)
    }
    for (const shared of ["@warden/core/Metrics", "@warden/core/SingleFlight", "@warden/core/Endpoint"]) {
      expect(require.resolve(shared)).toMatch(/dist\/src\/\w+\.js$/)
    }
  })
})
