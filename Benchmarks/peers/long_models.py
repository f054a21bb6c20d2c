"""A BERT folder (all-MiniLM-L6-v2) as the encoder of transformers' sparse-attention models, for the long-input
runs of Benchmarks/peers/finetune.py (--attention bigbird|longformer): BigBirdModel with block_sparse attention
(ITC: global first/last blocks, a window of 3 blocks, random blocks) or LongformerModel with its sliding window
and no global tokens, each given the BERT's weights by name. The position table is tiled to --max-length rows
(row i is the folder's row i mod 512), as `attend train --extend-positions tile` grows it; Longformer numbers
positions from pad_token_id + 1 (RoBERTa's convention), so its table is the tiled one shifted down a row. The
head is BertForSequenceClassification's: dropout(tanh(pooler(h[CLS]))) then a new Linear(width, classes) drawn
N(0, initializer_range²); a pooler the folder lacks (MiniLM has none) stays at its initial values, as in Attend.
Longformer's separate projections for global attention are unused without global tokens.
"""
import json
from types import SimpleNamespace

import torch
from safetensors.torch import load_file
from transformers import BigBirdConfig, BigBirdModel, LongformerConfig, LongformerModel


class PooledClassifier(torch.nn.Module):
    """encoder → dropout(pooler_output) → classifier, called like a transformers classifier."""

    def __init__(self, encoder, width, labels, dropout, initializer_range):
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.classifier = torch.nn.Linear(width, labels)
        torch.nn.init.normal_(self.classifier.weight, std=initializer_range)
        torch.nn.init.zeros_(self.classifier.bias)

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        pooled = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).pooler_output
        return SimpleNamespace(logits=self.classifier(self.dropout(pooled)))


def tiled(table, rows):
    """The position table [N, c] repeated to [rows, c]: row i is row i mod N."""
    return table[torch.arange(rows) % table.shape[0]]


def sparse_classifier(folder, attention, labels, max_length, block_size, random_blocks, window):
    """PooledClassifier around a BigBird ('bigbird') or Longformer ('longformer') encoder holding the BERT
    weights of `folder`, for inputs of up to `max_length` tokens."""
    with open(f"{folder}/config.json") as f:
        bert = json.load(f)
    weights = {name.removeprefix("bert."): tensor for name, tensor in load_file(f"{folder}/model.safetensors").items()
               if not name.endswith("position_ids")}
    shape = dict(vocab_size=bert["vocab_size"], hidden_size=bert["hidden_size"],
                 num_hidden_layers=bert["num_hidden_layers"], num_attention_heads=bert["num_attention_heads"],
                 intermediate_size=bert["intermediate_size"], hidden_act=bert["hidden_act"],
                 hidden_dropout_prob=bert["hidden_dropout_prob"],
                 attention_probs_dropout_prob=bert["attention_probs_dropout_prob"],
                 type_vocab_size=bert["type_vocab_size"], layer_norm_eps=bert["layer_norm_eps"],
                 initializer_range=bert["initializer_range"], pad_token_id=bert.get("pad_token_id", 0))
    table = weights["embeddings.position_embeddings.weight"]
    if attention == "bigbird":
        config = BigBirdConfig(**shape, max_position_embeddings=max_length, attention_type="block_sparse",
                               block_size=block_size, num_random_blocks=random_blocks, rescale_embeddings=False,
                               use_bias=True)
        encoder = BigBirdModel(config, add_pooling_layer=True)
        weights["embeddings.position_embeddings.weight"] = tiled(table, max_length)
        if "pooler.dense.weight" in weights:
            weights["pooler.weight"] = weights.pop("pooler.dense.weight")
            weights["pooler.bias"] = weights.pop("pooler.dense.bias")
    elif attention == "longformer":
        offset = shape["pad_token_id"] + 1
        config = LongformerConfig(**shape, max_position_embeddings=max_length + offset,
                                  attention_window=[window] * bert["num_hidden_layers"])
        encoder = LongformerModel(config, add_pooling_layer=True)
        grown = encoder.embeddings.position_embeddings.weight.detach().clone()
        grown[offset:] = tiled(table, max_length)
        weights["embeddings.position_embeddings.weight"] = grown
    else:
        raise SystemExit(f"finetune.py: unknown --attention {attention} (full, bigbird or longformer)")
    missing, unexpected = encoder.load_state_dict(weights, strict=False)
    kept = [name for name in missing if "pooler" not in name and "_global" not in name]
    if kept or unexpected:
        raise SystemExit(f"finetune.py: {folder} does not map onto {attention}: missing {kept}, "
                         f"unexpected {unexpected}")
    return PooledClassifier(encoder, bert["hidden_size"], labels, bert["hidden_dropout_prob"],
                            bert["initializer_range"])
