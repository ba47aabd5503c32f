// test/core in seven processes (test/helpers/test-group.ts), balanced by
// their time: each group well inside tap's 2 minutes on a busy CI machine.
export const CORE_GROUPS = [
  ['session-cache', 'logs'],
  ['login-floods', 'options', 'unknown-options', 'platform-answers'],
  ['admin', 'index-lifetime', 'upgrade', 'bodies'],
  ['lifecycle', 'hooks', 'login'],
  ['error-contract', 'diagnostics', 'coexistence'],
  ['sessions', 'nestjs', 'login-events', 'route-options'],
  ['app-error-handler', 'openapi', 'authenticate', 'custom-provider']
] as const
