"""A drop-in for coqui's ``TTS.api.TTS`` that loads only models ttsguard checked.

    from ttsguard.coqui import TTS        # instead of: from TTS.api import TTS

    tts = TTS("tts_models/en/ljspeech/vits")
    tts.tts_to_file(text="Hello.", file_path="hello.wav")

What changes against coqui's class (coqui-tts 0.28), and nothing else:

- A model name (a coqui catalog id, or the name of any model in ttsguard's store) is resolved
  through the store: a stored model is checked (re-hashed against its pin, signature and scan,
  ``ttsguard check``), a missing one is pulled under the trust policy (``ttsguard pull``, with
  coqui's catalog of the installed package). coqui is then given the read-only store folder:
  the model file and config.json that coqui's ModelManager.download_model would return for it
  (its own _find_files), and the catalog's default vocoder resolved the same way. The config
  paths coqui's downloader rewrites after a download (_update_paths: speakers, stats, language
  ids, speaker encoder) are rewritten by coqui's own code into a private copy of config.json,
  never in the store.
- Local paths (``model_path``, ``config_path``, ``vocoder_path``, ``vocoder_config_path``,
  ``encoder_path``, ``encoder_config_path``, ``speakers_file_path``) are checked before coqui
  reads them: a folder with every gate of the policy (``ttsguard check``), a file with the
  scanner (``ttsguard scan``).
- While coqui loads the model, ``ttsguard.torch.guard()`` is installed, so every ``torch.load``
  and ``numpy.load(allow_pickle=True)`` it makes (speaker files, stats, encoders named by the
  config) is scanned first (``guard=False`` turns that off).

A failed check raises ttsguard's IntegrityError, ScanError or PolicyError with the evidence, and
coqui never sees the model. ``tts.ttsguard_evidence`` lists the results of every check made.

Keyword arguments added to coqui's: ``policy`` (a trust policy file), ``catalog`` (a coqui
.models.json; default: the installed TTS package's, as coqui's ModelManager reads it),
``accept_tos`` (accept a model's terms of service, as --accept-tos; coqui's COQUI_TOS_AGREED=1
counts too) and ``guard``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any, List, Optional, Tuple

from TTS.api import TTS as _CoquiTTS
from TTS.utils.manage import ModelManager

import ttsguard

from .torch import Guard

__all__ = ["TTS"]

# Models coqui's download_model returns as a folder rather than a model file (coqui-tts 0.28).
_FOLDER_MODELS = ("tortoise-v2", "bark", "knnvc")
# Models whose config paths coqui's downloader leaves alone.
_EXTERNAL = ("fairseq", "openvoice")
# Local path arguments of coqui's TTS, checked before coqui reads them.
_LOCAL_ARGS = ("model_path", "config_path", "vocoder_path", "vocoder_config_path", "encoder_path",
               "encoder_config_path", "speakers_file_path")


class TTS(_CoquiTTS):
    """coqui's ``TTS.api.TTS``, loading only models that ttsguard checked (see the module doc)."""

    def __init__(self, model_name: str = "", *, policy: Optional[str] = None, catalog: Optional[str] = None,
                 accept_tos: bool = False, guard: bool = True, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(_LOCAL_ARGS) - {"vocoder_name", "progress_bar", "gpu"}
        if unknown:
            raise TypeError(f"TTS() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
        # Plain attributes before nn.Module.__init__: set them past Module.__setattr__.
        state = {
            "_tg_policy": policy,
            "_tg_catalog": catalog,
            "_tg_accept_tos": accept_tos or os.environ.get("COQUI_TOS_AGREED") == "1",
            "_tg_checked": set(),
            "_tg_tmp": None,
            "ttsguard_evidence": [],
        }
        for k, v in state.items():
            object.__setattr__(self, k, v)
        self._tg_check_local(*(kwargs.get(a) for a in _LOCAL_ARGS))
        if guard:
            g = Guard(policy=policy)
            try:
                with g:
                    super().__init__(model_name, **kwargs)
            finally:
                self.ttsguard_evidence.extend(g.scanned)
        else:
            super().__init__(model_name, **kwargs)

    # -- local paths ---------------------------------------------------------------------------

    def _tg_check_local(self, *paths: Any) -> None:
        files: List[str] = []
        for p in paths:
            if p is None or p == "":
                continue
            p = os.path.abspath(os.fspath(p))
            if p in self._tg_checked:
                continue
            if os.path.isdir(p):
                self.ttsguard_evidence.append(ttsguard.check(p, policy=self._tg_policy))
            else:
                files.append(p)  # a missing file: scan says so (UsageError)
            self._tg_checked.add(p)
        if files:
            self.ttsguard_evidence.append(ttsguard.scan(*files, policy=self._tg_policy))

    def load_tts_model_by_path(self, model_path: str, config_path: str, *, gpu: bool = False) -> None:
        self._tg_check_local(model_path, config_path, self.vocoder_path, self.vocoder_config_path,
                             self.encoder_path, self.encoder_config_path, self.speakers_file_path)
        super().load_tts_model_by_path(model_path, config_path, gpu=gpu)

    # -- names, through the store ----------------------------------------------------------

    def _tg_catalog_file(self) -> str:
        if self._tg_catalog is not None:
            return os.fspath(self._tg_catalog)
        from importlib import resources

        return os.fspath(resources.files("TTS").joinpath(".models.json"))

    def _tg_item(self, name: str) -> dict:
        """coqui's catalog entry of a full coqui id, or {} (a name of the store)."""
        parts = name.split("/")
        if len(parts) != 4 or "fairseq" in name:
            return {}
        manager = self.manager if self._tg_catalog is None else ModelManager(models_file=self._tg_catalog)
        node: Any = manager.models_dict
        for p in parts:
            if not isinstance(node, dict) or p not in node:
                return {}
            node = node[p]
        return dict(node, model_type=parts[0]) if isinstance(node, dict) else {}

    def _tg_folder(self, name: str) -> Path:
        """The read-only store folder of a model: checked when stored, else pulled under the policy."""
        stored = {m.name for m in ttsguard.ls(policy=self._tg_policy)}
        if name in stored:
            r = ttsguard.check(name, policy=self._tg_policy)
        else:
            r = ttsguard.pull(name, policy=self._tg_policy, catalog=self._tg_catalog_file(),
                              accept_tos=self._tg_accept_tos)
        self.ttsguard_evidence.append(r)
        if not r.path or not os.path.isdir(r.path):
            raise ttsguard.ToolError(f"{name}: ttsguard reported no store folder ({r.path!r})", evidence=r)
        return Path(r.path)

    def _tg_private(self) -> Path:
        if self._tg_tmp is None:
            d = tempfile.mkdtemp(prefix="ttsguard-coqui-")
            object.__setattr__(self, "_tg_tmp", d)
            weakref.finalize(self, shutil.rmtree, d, True)
        return Path(self._tg_tmp)

    def _tg_config_copy(self, name: str, folder: Path, config: Path) -> Path:
        """config.json with the paths coqui's downloader rewrites pointing into the store folder,
        rewritten by coqui's own ModelManager._update_paths in a private copy; the store's own
        config.json when nothing changes."""
        d = self._tg_private() / name.replace("/", "--")
        d.mkdir(parents=True, exist_ok=True)
        copy = d / "config.json"
        shutil.copyfile(config, copy)
        self.manager._update_paths(folder, copy)
        if copy.read_bytes() == config.read_bytes():
            return config
        return copy

    def _tg_verified(self, name: str) -> Tuple[Path, Path, dict]:
        """What coqui's ModelManager.download_model returns (model path, config path, catalog
        entry), from the checked store folder."""
        item = self._tg_item(name)
        folder = self._tg_folder(name)
        model = name.split("/")[-1]
        if model in _FOLDER_MODELS:
            model_path, config_path = folder, folder / "config.json"
            if not config_path.is_file():
                # coqui writes the model's default config next to it; here into the private folder.
                if model == "knnvc":
                    from TTS.vc.configs.knnvc_config import KNNVCConfig as default_config
                elif model == "tortoise-v2":
                    from TTS.tts.configs.tortoise_config import TortoiseConfig as default_config
                else:
                    raise ttsguard.UsageError(f"{name}: the stored folder {folder} has no config.json")
                d = self._tg_private() / name.replace("/", "--")
                d.mkdir(parents=True, exist_ok=True)
                config_path = d / "config.json"
                default_config().save_json(str(config_path))
        else:
            model_path, config_path = ModelManager._find_files(folder)
        if all(x not in name for x in _EXTERNAL) and config_path.parent == folder:
            config_path = self._tg_config_copy(name, folder, config_path)
        return model_path, config_path, item

    def download_model_by_name(self, model_name: str, vocoder_name: Optional[str] = None
                               ) -> Tuple[Optional[Path], Optional[Path], Optional[Path], Optional[Path]]:
        model_path, config_path, item = self._tg_verified(model_name)
        if item:
            if item.get("default_vocoder") is None:  # as coqui: no vocoder for these
                return model_path, config_path, None, None
            if vocoder_name is None:
                vocoder_name = item["default_vocoder"]
        elif vocoder_name is None:  # a name of the store, without a catalog entry
            return model_path, config_path, None, None
        vocoder_path, vocoder_config_path = None, None
        if item.get("model_type", "tts_models") == "tts_models":
            # A local vocoder given to __init__ takes precedence (checked there).
            vocoder_path, vocoder_config_path = self.vocoder_path, self.vocoder_config_path
        if vocoder_path is None or vocoder_config_path is None:
            vocoder_path, vocoder_config_path, _ = self._tg_verified(vocoder_name)
        return model_path, config_path, vocoder_path, vocoder_config_path
