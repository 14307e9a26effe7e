"""Plain-PyTorch references of the cross-encoder families beyond BERT (see each module):

    roberta.py     RobertaForSequenceClassification (model_type "roberta" and "xlm-roberta")
    electra.py     ElectraForSequenceClassification
    modernbert.py  ModernBertForSequenceClassification (eager attention, padded path)
    common.py      configs, checkpoint loading/saving, the seeded test init, mutations
    corpus.py, sentencepiece_model.py, tokenizer_files.py: the tiny tokenizers of the test models

`load_family_model(dir)` dispatches on config.json's model_type (bert included, via bert_model.py).
"""
