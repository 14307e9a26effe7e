/**
 * The activation applied to a cross-encoder's logits, as Sentence Transformers names and stores it.
 */
import { ModelFormatError } from '../errors.js';

/** `sigmoid` maps one logit to (0, 1); `softmax` normalises several; `identity` keeps raw logits. */
export type Activation = 'sigmoid' | 'identity' | 'softmax';

export const ACTIVATIONS: readonly Activation[] = ['sigmoid', 'identity', 'softmax'];

/** The torch class path Sentence Transformers writes into config.json for each activation. */
export const ACTIVATION_CLASS_PATHS: Readonly<Record<Activation, string>> = {
  sigmoid: 'torch.nn.modules.activation.Sigmoid',
  identity: 'torch.nn.modules.linear.Identity',
  softmax: 'torch.nn.modules.activation.Softmax',
};

/** Maps a stored class path (`torch.nn.modules.linear.Identity`, …) to an {@link Activation}. */
export function activationFromClassPath(classPath: string, source: string): Activation {
  const className = classPath.split('.').pop() ?? '';
  const found = ACTIVATIONS.find((name) => name === className.toLowerCase());
  if (!found) {
    throw new ModelFormatError(
      `${source}: unsupported activation '${classPath}'; supported: ${Object.values(ACTIVATION_CLASS_PATHS).join(', ')}`,
    );
  }
  return found;
}

/** Applies the activation in place to row-major logits [n, numLabels] and returns them. */
export function applyActivation(logits: Float32Array, numLabels: number, activation: Activation): Float32Array {
  if (activation === 'sigmoid') {
    for (let i = 0; i < logits.length; i++) logits[i] = 1 / (1 + Math.exp(-logits[i]));
  } else if (activation === 'softmax') {
    for (let row = 0; row < logits.length; row += numLabels) {
      let max = -Infinity;
      for (let j = 0; j < numLabels; j++) max = Math.max(max, logits[row + j]);
      let sum = 0;
      for (let j = 0; j < numLabels; j++) sum += Math.exp(logits[row + j] - max);
      for (let j = 0; j < numLabels; j++) logits[row + j] = Math.exp(logits[row + j] - max) / sum;
    }
  }
  return logits;
}
