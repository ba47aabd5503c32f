import { runPartOf } from '../helpers/test-group.js'

await runPartOf('core', 5, 6)
