{
  "k1": {{ k1 }},
  "k2": {{ k2:.17g }},
  "A0": 1.0,
  "t_end": 15.0,
  "n_steps": 100,
  "solver_rtol": 1e-10,
  "delay": 0
}
