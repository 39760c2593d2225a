"""The chat templates the hub tokenizers ship, as they ship them (None for base models, which ship none).

Each is the template a real tokenizer of that model renders with. tests/test_miniatures.py checks the first three
byte for byte against SimPO's copies (../shared/data/simpo_repo_assets/chat_templates.json: `llama3`,
`mistral-instruct`, `mistral-base`) and the Gemma-2 one against prefopt.evaluation.templates' `gemma` rendering.
"""

from __future__ import annotations

# meta-llama/Meta-Llama-3-8B-Instruct (and princeton-nlp/Llama-3-Base-8B-SFT, trained with it): BOS once,
# then <|start_header_id|>role<|end_header_id|>\n\n content <|eot_id|> per message.
LLAMA3_INSTRUCT = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|"
    ">' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.inde"
    'x0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generatio'
    "n_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)

# mistralai/Mistral-7B-Instruct-v0.2: [INST] ... [/INST] answer</s>; strict user/assistant alternation.
MISTRAL_INSTRUCT = (
    "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) "
    "%}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %"
    "}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['rol"
    "e'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assi"
    "stant roles are supported!') }}{% endif %}{% endfor %}"
)

# alignment-handbook/zephyr-7b-sft-full (Zephyr format). It writes no BOS: the real tokenizer adds one on encode
# (add_bos_token), and prefopt's tokenization prepends it when the template has none.
ZEPHYR = (
    "{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\n' + message['content'] + e"
    "os_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\n' + message['content'] + eos_token }}\n"
    "{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\n'  + message['content'] + eos_token }}\n{% en"
    "dif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}"
)

# google/gemma-2-9b-it: <start_of_turn>user|model ... <end_of_turn>; no system role.
GEMMA2_IT = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }"
    "}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{"
    "{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{%"
    " if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %"
    "}{% endif %}{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endf"
    "or %}{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)

# SimPO's chat_templates.json key for each template above that it has.
SIMPO_KEYS = {"llama3": LLAMA3_INSTRUCT, "mistral-instruct": MISTRAL_INSTRUCT, "mistral-base": ZEPHYR}
