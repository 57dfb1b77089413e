"""Teacher GRPO: trl's ``GRPOTrainer`` with the format, accuracy and consistency rewards.

Prompts are the protocol prompt with both creatives (both orders by default); the ``label``
column reaches the accuracy reward through trl's reward keyword arguments. Rollouts use
transformers' ``generate`` on CPU, or vLLM through trl with ``use_vllm`` on a GPU box.
"""

from __future__ import annotations

from creative4u_small.contract.pairs import CreativePair
from creative4u_small.data.hf_dataset import prompt_completion_dataset
from creative4u_small.distill.teacher.grpo_config import TeacherGRPOConfig
from creative4u_small.distill.teacher.rewards import REWARDS
from creative4u_small.distill.teacher.teacher_training import train_teacher
from creative4u_small.distill.training_run import checkpoint_dir, lora_config

STAGE = "teacher-grpo"


def build_grpo_trainer(config: TeacherGRPOConfig, pairs: list[CreativePair], model, processor):
    from trl import GRPOTrainer

    dataset = prompt_completion_dataset(pairs, both_orders=config.both_orders, with_completion=False, upright=True)
    return GRPOTrainer(
        model=model,
        reward_funcs=list(REWARDS.values()),
        args=config.training_args(str(checkpoint_dir(config.out))),
        train_dataset=dataset,
        processing_class=processor,
        peft_config=lora_config(config),
    )


def reward_summary(trainer) -> dict:
    """The mean reward of the first and last logged steps, and the last one per reward function."""
    logs = [h for h in trainer.state.log_history if "reward" in h]
    return {
        "reward_first": logs[0]["reward"] if logs else None,
        "reward_last": logs[-1]["reward"] if logs else None,
        "reward_means_last": {k: v for k, v in (logs[-1] if logs else {}).items() if k.startswith("rewards/") and k.endswith("/mean")},
    }


def train_grpo(config: TeacherGRPOConfig, progress=None) -> dict:
    """Run GRPO and publish the (merged) model into ``config.out``; returns a summary with reward means."""
    return train_teacher(config, STAGE, build_grpo_trainer, reward_summary, progress, need_label=True)
