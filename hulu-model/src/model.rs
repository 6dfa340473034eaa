//! The assembled model: checkpoint directory in, every component loaded behind its trait.

use crate::config::{GenerationConfig, HuluConfig};
use crate::error::{Error, Result};
use crate::template::ChatTemplate;
use crate::tokenizer::Tokenizer;
use hulu_compress::{CompressionOptions, MedicalCompressor, TokenCompressor};
use hulu_llm::CausalDecoder;
use hulu_nn::VarBuilder;
use hulu_vision::{
    EncoderOptions, ImageProcessor, PreprocessorConfig, ProcessorOptions, Projector,
    SiglipNavitEncoder, VisionEncoder,
};
use std::path::{Path, PathBuf};
use tch::{Device, Kind};

/// Hulu-Med: tokenizer and template, image processor, vision encoder, projector, token
/// compressor and causal decoder, on one device in one dtype.
///
/// Load a checkpoint directory with [`HuluMed::from_pretrained`], or assemble one from parts
/// (your own encoder or decoder) with [`HuluMedBuilder`].
pub struct HuluMed {
    pub(crate) dir: PathBuf,
    pub(crate) config: HuluConfig,
    pub(crate) generation: GenerationConfig,
    pub(crate) tokenizer: Tokenizer,
    pub(crate) template: ChatTemplate,
    pub(crate) preprocessor: PreprocessorConfig,
    pub(crate) processor: ImageProcessor,
    pub(crate) processor_options: ProcessorOptions,
    pub(crate) vision: Box<dyn VisionEncoder + Send>,
    pub(crate) projector: Projector,
    pub(crate) compressor: Box<dyn TokenCompressor>,
    pub(crate) decoder: Box<dyn CausalDecoder>,
    pub(crate) device: Device,
    pub(crate) kind: Kind,
}

impl std::fmt::Debug for HuluMed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HuluMed")
            .field("dir", &self.dir)
            .field("family", &self.config.family())
            .field("device", &self.device)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl HuluMed {
    /// Loads the checkpoint `dir` (Hugging Face layout) in `kind` on `device`: a directory, or
    /// a Hub id `org/name[@revision]` found offline in the Hugging Face cache
    /// ([`crate::hub::resolve`]). Then the
    /// decoder family from `architectures`, the weights read per tensor, the tokenizer from
    /// `tokenizer.json` or the vocabulary files, the chat template, generation defaults and
    /// image-processor settings.
    ///
    /// # Errors
    ///
    /// [`Error::ModelNotFound`] naming where it looked; those of [`HuluMedBuilder::build`].
    pub fn from_pretrained(dir: impl AsRef<Path>, device: Device, kind: Kind) -> Result<Self> {
        let dir = crate::hub::resolve(dir)?;
        HuluMedBuilder::new(dir).device(device).kind(kind).build()
    }

    /// The checkpoint directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `config.json`.
    pub fn config(&self) -> &HuluConfig {
        &self.config
    }

    /// `generation_config.json` (defaults when absent).
    pub fn generation_config(&self) -> &GenerationConfig {
        &self.generation
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The chat template.
    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    /// The image processor.
    pub fn processor(&self) -> &ImageProcessor {
        &self.processor
    }

    /// The vision encoder.
    pub fn vision(&self) -> &(dyn VisionEncoder + Send) {
        self.vision.as_ref()
    }

    /// The projector from vision width to decoder width.
    pub fn projector(&self) -> &Projector {
        &self.projector
    }

    /// The decoder.
    pub fn decoder(&self) -> &dyn CausalDecoder {
        self.decoder.as_ref()
    }

    /// The compression policy used when a call enables compression.
    pub fn compressor(&self) -> &dyn TokenCompressor {
        self.compressor.as_ref()
    }

    /// Device of every weight.
    pub fn device(&self) -> Device {
        self.device
    }

    /// Element type of weights and activations.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The id that stands for one visual token.
    pub fn image_token_id(&self) -> i64 {
        self.config.image_token_index
    }
}

/// Builds a [`HuluMed`] from a checkpoint directory, optionally replacing components.
///
/// ```no_run
/// use hulu_model::HuluMedBuilder;
/// let model = HuluMedBuilder::new("Hulu-Med-7B")
///     .device(tch::Device::Cuda(0))
///     .kind(tch::Kind::BFloat16)
///     .build()?;
/// # Ok::<(), hulu_model::Error>(())
/// ```
pub struct HuluMedBuilder {
    dir: PathBuf,
    device: Device,
    kind: Kind,
    vision: Option<(Box<dyn VisionEncoder + Send>, Projector)>,
    decoder: Option<Box<dyn CausalDecoder>>,
    compressor: Option<Box<dyn TokenCompressor>>,
    weights: Option<VarBuilder>,
    processor_options: ProcessorOptions,
    encoder_options: EncoderOptions,
    quantization: Option<hulu_llm::Quantization>,
    quantize_embeddings: bool,
}

impl HuluMedBuilder {
    /// Starts from the checkpoint directory `dir` (config, tokenizer, template and any
    /// component not replaced come from there); CPU, float32.
    pub fn new(dir: impl AsRef<Path>) -> Self {
        HuluMedBuilder {
            dir: dir.as_ref().to_path_buf(),
            device: Device::Cpu,
            kind: Kind::Float,
            vision: None,
            decoder: None,
            compressor: None,
            weights: None,
            processor_options: ProcessorOptions::default(),
            encoder_options: EncoderOptions::default(),
            quantization: None,
            quantize_embeddings: false,
        }
    }

    /// Weight-only quantization of the decoder's linear layers after loading (int8 per
    /// channel or int4 per group; embeddings, norms and `lm_head` stay in the compute dtype;
    /// see [`hulu_llm::Quantization`]). `None` (the default) keeps every weight dense. A
    /// checkpoint written by [`hulu_llm::quantize_checkpoint`] loads quantized without this.
    pub fn quantization(mut self, quantization: Option<hulu_llm::Quantization>) -> Self {
        self.quantization = quantization;
        self
    }

    /// With [`HuluMedBuilder::quantization`], quantize the vocabulary tables too
    /// (`model.embed_tokens` and `lm_head`, tied or not; see
    /// [`hulu_llm::CausalDecoder::quantize_embeddings`]): fewer bytes and faster decoding on
    /// small models, at some accuracy of the logits. Off by default, as in the reference
    /// runtimes (bitsandbytes skips `lm_head`, llama.cpp keeps the output tensor wider).
    pub fn quantize_embeddings(mut self, on: bool) -> Self {
        self.quantize_embeddings = on;
        self
    }

    /// Loads the components not supplied from `weights` (its own dtype and device) instead of
    /// the directory's checkpoint: seeded random values ([`VarBuilder::random`]), trainable
    /// parameters over a [`hulu_nn::VarMap`], or any other backend. The keys are the
    /// checkpoint's (`model.vision_encoder.*`, `model.mm_projector.*`, `model.*`, `lm_head.*`).
    pub fn weights(mut self, weights: VarBuilder) -> Self {
        self.device = weights.device();
        self.kind = weights.kind();
        self.weights = Some(weights);
        self
    }

    /// Image-processor choices (pixel budget, minimum size, allocation limit, threads; the
    /// defaults reproduce the reference).
    pub fn processor_options(mut self, options: ProcessorOptions) -> Self {
        self.processor_options = options;
        self
    }

    /// Vision-encoder execution choices for the directory's encoder (patches encoded at
    /// once); ignored when [`Self::vision`] supplies an encoder.
    pub fn encoder_options(mut self, options: EncoderOptions) -> Self {
        self.encoder_options = options;
        self
    }

    /// Device for the weights loaded from the directory.
    pub fn device(mut self, device: Device) -> Self {
        self.device = device;
        self
    }

    /// Dtype for the weights loaded from the directory (float32, bf16 or f16).
    pub fn kind(mut self, kind: Kind) -> Self {
        self.kind = kind;
        self
    }

    /// Uses this vision encoder and projector instead of the directory's. [`Self::build`]
    /// checks that the encoder takes the preprocessor's patches and that the projector maps
    /// the encoder's width to the decoder's.
    pub fn vision(mut self, encoder: Box<dyn VisionEncoder + Send>, projector: Projector) -> Self {
        self.vision = Some((encoder, projector));
        self
    }

    /// Uses this decoder instead of the directory's. Its vocabulary must cover the tokenizer.
    pub fn decoder(mut self, decoder: Box<dyn CausalDecoder>) -> Self {
        self.decoder = Some(decoder);
        self
    }

    /// Uses this compression policy when a call enables compression (default: the medical
    /// compressor with the reference's options).
    pub fn compressor(mut self, compressor: Box<dyn TokenCompressor>) -> Self {
        self.compressor = Some(compressor);
        self
    }

    /// Loads whatever was not supplied and checks the parts fit together.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `config.json`, `generation_config.json`,
    /// `preprocessor_config.json` or the checkpoint cannot be read; [`Error::NoTokenizer`],
    /// [`Error::NoChatTemplate`] and the tokenizer's and template's errors;
    /// [`Error::Vision`] or [`Error::Decoder`] when a component does not load from the
    /// weights; [`Error::Assembly`] naming the first pair of parts that does not fit.
    pub fn build(self) -> Result<HuluMed> {
        let dir = self.dir;
        let _span = tracing::info_span!("load_model", dir = %dir.display()).entered();
        let config = HuluConfig::from_file(dir.join("config.json"))?;
        let generation = optional_json(&dir.join("generation_config.json"), |p| {
            GenerationConfig::from_file(p)
        })?;
        let preprocessor = optional_json(&dir.join("preprocessor_config.json"), |p| {
            Ok(PreprocessorConfig::from_file(p)?)
        })?;
        let tokenizer = Tokenizer::from_dir(&dir)?;
        let template = ChatTemplate::from_dir(&dir)?;
        let processor =
            ImageProcessor::with_options(&preprocessor, self.processor_options.clone())?;

        // Map the checkpoint only when something still has to come from it.
        let weights = match self.weights {
            Some(vb) => Some(vb),
            None if self.vision.is_none() || self.decoder.is_none() => {
                Some(VarBuilder::from_dir(&dir, self.kind, self.device)?)
            }
            None => None,
        };
        let (vision, projector) = match self.vision {
            Some(parts) => parts,
            None => {
                let w = weights.as_ref().expect("weights chosen above");
                let _span = tracing::info_span!("load_vision").entered();
                let (encoder, projector) = load_vision(&config, w, self.encoder_options)?;
                (
                    Box::new(encoder) as Box<dyn VisionEncoder + Send>,
                    projector,
                )
            }
        };
        // Before the decoder loads: a mismatch here should not wait for gigabytes of weights.
        check_vision_fits(
            vision.as_ref(),
            &projector,
            &processor,
            config.hidden_size(),
        )?;
        let mut decoder = match self.decoder {
            Some(d) => d,
            None => {
                let w = weights.as_ref().expect("weights chosen above");
                let _span = tracing::info_span!("load_decoder").entered();
                hulu_llm::load_decoder(&config.decoder, w)?
            }
        };
        if let Some(q) = &self.quantization {
            decoder.quantize(q)?;
            if self.quantize_embeddings {
                decoder.quantize_embeddings(q)?;
            }
        }
        if let Some(w) = &weights {
            let unused = w.unused();
            if !unused.is_empty() {
                tracing::warn!(count = unused.len(), first = %unused[0], "checkpoint keys no component used");
            }
        }
        if decoder.config().hidden_size != config.hidden_size() {
            return Err(Error::Assembly(format!(
                "decoder width {} differs from the config's hidden_size {}",
                decoder.config().hidden_size,
                config.hidden_size()
            )));
        }
        if decoder.config().vocab_size <= config.image_token_index as usize {
            return Err(Error::Assembly(format!(
                "decoder vocabulary of {} does not contain the image token {}",
                decoder.config().vocab_size,
                config.image_token_index
            )));
        }
        let compressor: Box<dyn TokenCompressor> = match self.compressor {
            Some(c) => c,
            None => Box::new(MedicalCompressor::new(CompressionOptions::default())?),
        };
        Ok(HuluMed {
            dir,
            config,
            generation,
            tokenizer,
            template,
            preprocessor,
            processor,
            processor_options: self.processor_options,
            vision,
            projector,
            compressor,
            decoder,
            device: self.device,
            kind: self.kind,
        })
    }
}

/// The processor's patches, the encoder, the projector and the decoder width must chain.
fn check_vision_fits(
    encoder: &(dyn VisionEncoder + Send),
    projector: &Projector,
    processor: &ImageProcessor,
    llm_hidden: usize,
) -> Result<()> {
    if encoder.patch_values() != processor.patch_dim() {
        return Err(Error::Assembly(format!(
            "the vision encoder takes patches of {} values, but preprocessor_config.json's \
             patch_size {} makes patches of {}",
            encoder.patch_values(),
            processor.patch_size(),
            processor.patch_dim()
        )));
    }
    if projector.input_width() != encoder.hidden_size() {
        return Err(Error::Assembly(format!(
            "the projector takes features {} wide, the vision encoder returns {}",
            projector.input_width(),
            encoder.hidden_size()
        )));
    }
    if projector.output_width() != llm_hidden {
        return Err(Error::Assembly(format!(
            "the projector returns embeddings {} wide, the config's hidden_size is {}",
            projector.output_width(),
            llm_hidden
        )));
    }
    Ok(())
}

/// The vision encoder (`model.vision_encoder`) and projector (`model.mm_projector`) of
/// `config`, built from `weights`.
pub(crate) fn load_vision(
    config: &HuluConfig,
    weights: &VarBuilder,
    options: EncoderOptions,
) -> Result<(SiglipNavitEncoder, Projector)> {
    let encoder = SiglipNavitEncoder::load_with_options(
        &config.vision_encoder_config,
        &weights.pp("model.vision_encoder"),
        options,
    )?;
    let projector = Projector::load(
        &weights.pp("model.mm_projector"),
        config.vision_encoder_config.hidden_size,
        config.hidden_size(),
    )?;
    Ok((encoder, projector))
}

fn optional_json<T: Default>(path: &Path, read: impl FnOnce(&Path) -> Result<T>) -> Result<T> {
    if path.is_file() {
        Ok(read(path)?)
    } else {
        Ok(T::default())
    }
}
