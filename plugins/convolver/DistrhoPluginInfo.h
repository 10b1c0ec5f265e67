// plugins/convolver/DistrhoPluginInfo.h - what DPF needs to know about the irforge Convolver.
#pragma once

#define DISTRHO_PLUGIN_NAME  "irforge Convolver"
#define DISTRHO_PLUGIN_URI   "https://github.com/irforge/irforge/plugins/convolver"
#define DISTRHO_PLUGIN_CLAP_ID "dev.irforge.convolver"

#define DISTRHO_PLUGIN_BRAND_ID  Irfg
#define DISTRHO_PLUGIN_UNIQUE_ID IrCv

#define DISTRHO_PLUGIN_HAS_UI        0
#define DISTRHO_PLUGIN_IS_RT_SAFE    1
#define DISTRHO_PLUGIN_NUM_INPUTS    2
#define DISTRHO_PLUGIN_NUM_OUTPUTS   2
#define DISTRHO_PLUGIN_WANT_STATE    1
#define DISTRHO_PLUGIN_WANT_FULL_STATE 1
#define DISTRHO_PLUGIN_WANT_LATENCY  0
#define DISTRHO_PLUGIN_LV2_CATEGORY  "lv2:ReverbPlugin"
#define DISTRHO_PLUGIN_VST3_CATEGORIES "Fx|Reverb|Stereo"
