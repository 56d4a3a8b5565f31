// `pggit-ops cicd generate jenkins|github`: prints (or writes) the pipeline cicd/pipelines.ts renders.
import { writeFileSync } from 'node:fs';
import { PipelineOptionError, platforms, renderPipeline, type Platform } from '../cicd/pipelines.ts';
import { CliError, ExitCode } from './exit-codes.ts';

export interface CicdOptions {
  migrationsDir: string;
  maxRisk: string;
  output?: string;
}

const isPlatform = (value: string): value is Platform => (platforms as readonly string[]).includes(value);

export function cicdGenerate(platform: string, opts: CicdOptions): ExitCode {
  if (!isPlatform(platform)) throw new CliError(ExitCode.BadInput, `unknown CI platform ${JSON.stringify(platform)}: use ${platforms.join(' or ')}`);
  let pipeline: string;
  try {
    pipeline = renderPipeline(platform, { migrationsDir: opts.migrationsDir, maxRisk: Number(opts.maxRisk) });
  } catch (err) {
    if (err instanceof PipelineOptionError) throw new CliError(ExitCode.BadInput, err.message);
    throw err;
  }
  if (opts.output) writeFileSync(opts.output, pipeline);
  else process.stdout.write(pipeline);
  return ExitCode.Ok;
}
