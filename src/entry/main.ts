import { actionMain } from './action.js'

await actionMain()
