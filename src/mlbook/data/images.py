"""An image-folder pipeline: class-per-subfolder directory -> paths and labels -> decode -> augment
-> normalise -> batch.

Images are PNG files read and written with Pillow (``PIL``), which Matplotlib already depends on;
Pillow's decoder releases the GIL while it works, so decoding parallelises on threads.

Augmentation draws its random numbers from a generator seeded by ``(seed, position in the epoch)``,
not from a shared generator, so the result does not depend on which worker ran which element or
in what order: a parallel pipeline gives the same batches as a sequential one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from mlbook.data.autotune import AUTOTUNE
from mlbook.data.dataset import Dataset

__all__ = ["IMAGE_EXTENSIONS", "write_image", "decode_image", "write_image_folder", "list_image_folder",
           "random_flip_left_right", "random_crop", "center_crop", "normalize", "LoadImage",
           "image_folder_dataset"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".ppm", ".bmp")


def write_image(path: str | os.PathLike, image: np.ndarray) -> None:
    """Save a ``uint8`` image of shape ``(H, W, 3)`` or ``(H, W)`` (format from the file extension)."""
    from PIL import Image

    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(f"write_image needs a uint8 (H, W), (H, W, 3) or (H, W, 4) array, got {image.dtype}{list(image.shape)}")
    Image.fromarray(image.squeeze(-1) if image.ndim == 3 and image.shape[2] == 1 else image).save(path)


def decode_image(path: str | os.PathLike | np.ndarray, channels: int = 3) -> np.ndarray:
    """Read an image file into a ``uint8`` array of shape ``(H, W, channels)`` (``channels`` 1 or 3)."""
    from PIL import Image

    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels}")
    with Image.open(str(path)) as image:
        array = np.asarray(image.convert("L" if channels == 1 else "RGB"))
    return array[..., None] if channels == 1 else array


def write_image_folder(root: str | os.PathLike, images: np.ndarray, labels: np.ndarray,
                       class_names: Sequence[str]) -> list[Path]:
    """Write ``images`` (``(N, H, W, 3)`` uint8) as PNG files ``root/<class name>/<index>.png``."""
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4 or len(images) != len(labels):
        raise ValueError(f"need images (N, H, W, C) and N labels, got images {list(images.shape)}, labels {list(labels.shape)}")
    if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"labels must lie in [0, {len(class_names)}), got {labels.min()}..{labels.max()}")
    paths = []
    for name in class_names:
        (Path(root) / name).mkdir(parents=True, exist_ok=True)
    for index, (image, label) in enumerate(zip(images, labels)):
        path = Path(root) / class_names[int(label)] / f"{index:06d}.png"
        write_image(path, image)
        paths.append(path)
    return paths


def list_image_folder(root: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Paths and integer labels of a class-per-subfolder tree, plus the class names.

    Classes are the sorted subfolder names (label = position in that list), as in Keras'
    ``image_dataset_from_directory`` and torchvision's ``ImageFolder``. Raises
    ``FileNotFoundError`` when ``root`` holds no class folders or no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder {root} does not exist")
    class_names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_names:
        raise FileNotFoundError(f"{root} has no class subfolders")
    paths, labels = [], []
    for label, name in enumerate(class_names):
        for path in sorted((root / name).iterdir()):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                paths.append(str(path))
                labels.append(label)
    if not paths:
        raise FileNotFoundError(f"no images with extensions {IMAGE_EXTENSIONS} under {root}")
    return np.array(paths), np.array(labels, dtype=np.int64), class_names


def random_flip_left_right(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror ``(H, W, C)`` horizontally with probability 1/2."""
    return image[:, ::-1] if rng.random() < 0.5 else image


def random_crop(image: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A uniformly placed ``size = (h, w)`` window of ``(H, W, C)``; ``ValueError`` if it does not fit."""
    height, width = image.shape[:2]
    h, w = size
    if h > height or w > width:
        raise ValueError(f"crop size {tuple(size)} is larger than the image {image.shape[:2]}")
    top = int(rng.integers(0, height - h + 1))
    left = int(rng.integers(0, width - w + 1))
    return image[top:top + h, left:left + w]


def center_crop(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The central ``size = (h, w)`` window: the evaluation-time counterpart of :func:`random_crop`."""
    height, width = image.shape[:2]
    h, w = size
    if h > height or w > width:
        raise ValueError(f"crop size {tuple(size)} is larger than the image {image.shape[:2]}")
    top, left = (height - h) // 2, (width - w) // 2
    return image[top:top + h, left:left + w]


def normalize(image: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """``(image / 255 - mean) / std`` per channel, as ``float32``."""
    mean32 = np.asarray(mean, dtype=np.float32)
    std32 = np.asarray(std, dtype=np.float32)
    if np.any(std32 <= 0):
        raise ValueError(f"std must be positive, got {list(std)}")
    return (image.astype(np.float32) / 255.0 - mean32) / std32


class LoadImage:
    """The per-element work of the pipeline: decode, crop, flip, normalise. Picklable for process workers.

    Called with ``(position, (path, label))``; returns ``(image float32 (h, w, 3), label)``.
    """

    def __init__(self, crop: tuple[int, int], *, training: bool, seed: int,
                 mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.25, 0.25, 0.25)) -> None:
        self.crop, self.training, self.seed = tuple(crop), training, seed
        self.mean, self.std = tuple(mean), tuple(std)

    def __call__(self, position: np.ndarray, path_and_label: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        path, label = path_and_label
        image = decode_image(str(path))
        if self.training:
            rng = np.random.default_rng([self.seed, int(position)])
            image = random_flip_left_right(random_crop(image, self.crop, rng), rng)
        else:
            image = center_crop(image, self.crop)
        return normalize(image, self.mean, self.std), label


def image_folder_dataset(root: str | os.PathLike, *, crop: tuple[int, int], batch_size: int, training: bool = True,
                         seed: int = 0, num_parallel_calls: int | None = AUTOTUNE, executor: str = "thread",
                         mean: Sequence[float] = (0.5, 0.5, 0.5), std: Sequence[float] = (0.25, 0.25, 0.25),
                         prefetch: int = AUTOTUNE) -> tuple[Dataset, list[str]]:
    """The whole pipeline over a class-per-subfolder tree; returns ``(dataset, class_names)``.

    Training: shuffle all paths every epoch, decode and augment in parallel (random crop to
    ``crop``, random horizontal flip), normalise, batch, prefetch. Evaluation (``training=False``):
    fixed order, centre crop, no flip. Batches are ``(images (B, h, w, 3) float32, labels (B,) int64)``.
    """
    paths, labels, class_names = list_image_folder(root)
    dataset = Dataset.from_tensor_slices((paths, labels))
    if training:
        dataset = dataset.shuffle(len(paths), seed=seed)
    load = LoadImage(crop, training=training, seed=seed, mean=mean, std=std)
    dataset = (dataset.enumerate()
               .map(load, num_parallel_calls=num_parallel_calls, executor=executor, name="decode+augment")
               .batch(batch_size))
    return dataset.prefetch(prefetch), class_names
