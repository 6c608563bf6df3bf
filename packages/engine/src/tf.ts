/**
 * The single TensorFlow.js import of the project. Every other package gets `tf` from here,
 * so there is one tfjs-core instance and one kernel registry.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradients; the union package registers them all (into the global registry).
import '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

export { tf };
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D, Rank, Variable, NamedTensorMap, TensorLike, DataType } from '@tensorflow/tfjs-core';
