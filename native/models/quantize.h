// Opt-in dynamic int8 inference: what `torch.quantization.quantize_dynamic(model, {nn.Linear},
// dtype=torch.qint8)` does to a model, on the oneDNN quantized engine. Every Linear layer of the
// model (encoder, pooler, heads, modular Dense: quantize_dynamic converts every nn.Linear)
// keeps its float32 parameters, registered under their Hugging Face names, and gains a packed
// int8 copy of its weight that its forward uses instead:
//   - weight: qint8, per tensor, symmetric, as default_dynamic_qconfig's MinMaxObserver gives it
//     (scale = max(|min|, |max|) / 127.5, at least float32 eps; zero point 0), packed once by
//     quantized::linear_prepack;
//   - input: quantised per call to quint8 over its whole range (min/max of the tensor, so a row's
//     result depends on the other rows the layer sees), by quantized::linear_dynamic with
//     reduce_range=True as nnqd.Linear passes it; bias and output stay float32.
// Embeddings, LayerNorms, attention and activations stay float32. There is no backward through a
// packed weight: a quantised model is for inference only.
#pragma once

#include <memory>

#include <torch/torch.h>

namespace tce {

// A packed int8 weight (a quantized::LinearPackedParamsBase of the engine), with its bias.
struct PackedLinearWeight;

// torch::nn::Linear (same options, parameters and names; init and loading treat it as one) whose
// forward runs the packed int8 weight once quantize_dynamic() has made one. Every family
// declares its Linear layers with this type.
class LinearImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;

  torch::Tensor forward(const torch::Tensor& input);
  bool quantized() const { return packed_ != nullptr; }

 private:
  friend void quantize_dynamic(torch::nn::Module& model);
  std::shared_ptr<const PackedLinearWeight> packed_;
};
TORCH_MODULE(Linear);

// Packs every Linear of `model` as int8 (see above), from its current float32 weights; a second
// call re-packs. Selects the oneDNN quantized engine (process-wide), the one PyTorch's reference
// runs with; ArgumentError when this libtorch has none that does dynamic int8 Linear.
void quantize_dynamic(torch::nn::Module& model);

// Whether `model` (or a module under it) has a packed int8 Linear. Such a layer's result for a
// row depends on every row it is given: a caller that would split the rows (pack out the padding,
// run a block in chunks) must give it the whole padded batch instead, as PyTorch does.
bool is_quantized(const torch::nn::Module& model);

}  // namespace tce
