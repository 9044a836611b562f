"""Names a claim's ``metric.kind`` may take, with what each measures (implementations live with
the evidence that computes them; this table keeps ``audit check`` free of torch)."""

METRIC_KINDS: dict[str, str] = {
    "kl": "KL(base || intervened) of the next-token distribution at the answer position (nats)",
    "nll_increase": "increase of the answer's first-token negative log-likelihood (nats)",
    "recovery": "activation patching: normalized recovery of the clean-vs-corrupt logit difference",
    "behavior_logprob": "steering: shift of log P(target behavior phrases) at the answer position, teacher forced (nats)",
    "generation_length": "steering: shift of greedy answer length, as a fraction of behavior.max_new_tokens",
    "generation_phrase": "steering: shift of the fraction of greedy answers containing a behavior.match phrase",
    "generation_json": "steering: shift of the fraction of greedy answers that parse as JSON",
    "skip_faithfulness": "layer skipping: top-5 next-token overlap and greedy agreement with the unmodified model, "
                         "answer NLL increase, tokens/s ratio",
    "lora_exact_match": "LoRA: held-out exact match of greedy answers (JSON: parsed and compared), trainable "
                        "parameters, KL drift on unrelated families",
    "lora_training_loss": "LoRA sweep: final training loss (answer tokens), KL drift and trainable parameters per "
                          "grid point (loss is not quality)",
    "lora_adapter_effect": "LoRA adapter ablation: increase of held-out answer NLL when one layer's adapter is off, "
                           "against that layer's adapter weight norm",
    "quantization_tradeoff": "quantization: tokens/s ratios between modes, model memory, exact match and KL to the "
                             "reference mode",
}
