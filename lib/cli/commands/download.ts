/** `crossencoder download`: fetch a model from the Hugging Face hub into the shared cache. */
import { downloadModel } from '../../hub/index.js';
import { DEFAULT_MODEL } from '../../model/cross-encoder.js';
import { defineCommand } from '../command.js';
import { MODEL_OPTIONS } from '../model-options.js';
import { writeOut } from '../output.js';

export const downloadCommand = defineCommand('download', {
  summary: 'Download a model from the Hugging Face hub into the cache',
  usage: `[<id>] [options]`,
  description:
    `Fetches the model files of <id> (default ${DEFAULT_MODEL}) into the Hugging Face cache,\n` +
    'shared with Python, and prints the snapshot directory. Progress goes to stderr\n' +
    '(HF_HUB_DISABLE_PROGRESS_BARS=1 silences it).',
  maxPositionals: 1,
  options: {
    revision: MODEL_OPTIONS.revision,
    'cache-dir': MODEL_OPTIONS['cache-dir'],
    'local-files-only': MODEL_OPTIONS['local-files-only'],
  },
  async run(values, [id = DEFAULT_MODEL]) {
    const snapshot = await downloadModel(id, {
      revision: values.revision,
      cacheDir: values['cache-dir'],
      localFilesOnly: values['local-files-only'] === true ? true : undefined,
    });
    await writeOut(`${snapshot}\n`);
  },
});
