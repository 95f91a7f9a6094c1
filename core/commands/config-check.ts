import { configCheck } from '../config/check.ts'

export async function runConfigCheck (file: string | undefined): Promise<number> {
  process.stdout.write(await configCheck(file) + '\n')
  return 0
}
