import { Apps } from '../../lib/apps.js'

/**
 * What every provider of configured apps shares: their AppIDs (the first is
 * the default) and the app a login names, 400 MPA_UNKNOWN_APP for another.
 */
export abstract class AppsProvider<A extends { appId: string }> {
  readonly appIds: readonly string[]
  protected readonly apps: Apps<A>

  constructor (apps: A[]) {
    this.apps = new Apps(apps)
    this.appIds = this.apps.ids
  }

  resolveAppId (appId?: string): string {
    return this.apps.get(appId).appId
  }
}
