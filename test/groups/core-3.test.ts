import { runFilesOf } from '../helpers/test-group.js'
import { CORE_GROUPS } from './core.js'

await runFilesOf('core', CORE_GROUPS[2], CORE_GROUPS)
