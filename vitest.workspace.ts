import { defineWorkspace, mergeConfig } from "vitest/config"
import { shared } from "./vitest.shared.js"

const pkg = (name: string, root: string) =>
  mergeConfig(shared, {
    test: { name, root, include: ["test/**/*.test.ts"] }
  })

export default defineWorkspace([
  pkg("core", "./packages/core"),
  pkg("jwt", "./packages/jwt"),
  pkg("oauth", "./packages/oauth"),
  pkg("rpc", "./packages/rpc"),
  pkg("http", "./packages/http"),
  pkg("redis", "./packages/redis"),
  pkg("token-service", "./packages/token-service"),
  pkg("testing", "./packages/testing"),
  pkg("shop", "./examples/shop"),
  mergeConfig(shared, {
    test: {
      name: "integration",
      root: "./test",
      include: ["**/*.test.ts"],
      typecheck: {
        enabled: true,
        include: ["**/*.test-d.ts"],
        tsconfig: "./tsconfig.json"
      }
    }
  })
])
