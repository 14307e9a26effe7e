/** What a weights file lacked or had in excess, as one error: the message both loaders give. */
import { ModelFormatError } from '../errors.js';

/**
 * @throws ModelFormatError naming `file`, what it was checked `against` ("config.json",
 * "modules.json") and the tensors missing and unexpected, when either list is not empty.
 */
export function checkTensorNames(file: string, against: string, missing: readonly string[], unexpected: readonly string[]): void {
  if (missing.length === 0 && unexpected.length === 0) return;
  const parts = [];
  if (missing.length > 0) parts.push(`missing tensors: ${missing.join(', ')}`);
  if (unexpected.length > 0) parts.push(`unexpected tensors: ${unexpected.join(', ')}`);
  throw new ModelFormatError(`${file} does not match ${against}: ${parts.join('; ')}`);
}
